"""agentledger: govern what AI agents do to systems of record, as events on Kafka."""

__version__ = "0.1.0"
