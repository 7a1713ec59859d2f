"""agentledger: govern what AI agents do to systems of record, as events on Kafka."""

import infra.policy  # noqa: F401  # regopy before any native allocator hook (STACK.md)

__version__ = "0.1.0"
