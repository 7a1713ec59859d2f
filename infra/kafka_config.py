"""The librdkafka settings every Kafka client of ours starts from.

``socket.nagle.disable``: librdkafka (2.16) leaves Nagle's algorithm on by default. On
Kafka's request/response protocol it holds a small write back until the previous segment
is acknowledged, and the broker delays that acknowledgement (40 ms on Linux): measured
here, a new client's first metadata request took 55-63 ms with it and 2-6 ms without.
(faust's clients are asyncio's, which turns Nagle off on every TCP connection itself.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BASE: Mapping[str, Any] = {"socket.nagle.disable": True}


def client_config(bootstrap: str, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A client's configuration: ``bootstrap``, :data:`BASE`, then ``settings`` (they win)."""
    return {"bootstrap.servers": bootstrap, **BASE, **(settings or {})}
