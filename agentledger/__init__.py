"""agentledger: govern what AI agents do to systems of record, as events on Kafka."""

from typing import Any

import infra.policy  # noqa: F401  # regopy before any native allocator hook (STACK.md)

__version__ = "0.1.0"
__all__ = ["Client", "__version__"]


def __getattr__(name: str) -> Any:  # noqa: ANN401  # the lazily imported SDK class
    """``agentledger.Client`` without importing the SDK's dependencies on every import."""
    if name == "Client":
        from agentledger.client import Client  # noqa: PLC0415  # lazy on purpose

        return Client
    raise AttributeError(name)
