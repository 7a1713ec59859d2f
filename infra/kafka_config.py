"""The librdkafka settings every Kafka client of ours starts from.

``socket.nagle.disable``: librdkafka (2.16) leaves Nagle's algorithm on by default. On
Kafka's request/response protocol it holds a small write back until the previous segment
is acknowledged, and the broker delays that acknowledgement (40 ms on Linux): measured
here, a new client's first metadata request took 55-63 ms with it and 2-6 ms without.
(faust's clients are asyncio's, which turns Nagle off on every TCP connection itself.)

``reconnect.backoff.ms``: once a new client has learnt the broker's own address from the
bootstrap connection, librdkafka closes that connection, failing a request still waiting
on it (often the application's first metadata request), and picks the next connection
only after half the reconnect backoff: 50 ms at the default 100. At 10 the first request
of a replay's consumer took 2-16 ms instead of 2-57. Reconnecting to a broker that is
down still backs off exponentially, to ``reconnect.backoff.max.ms`` (10 s).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BASE: Mapping[str, Any] = {"socket.nagle.disable": True, "reconnect.backoff.ms": 10}


def client_config(bootstrap: str, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A client's configuration: ``bootstrap``, :data:`BASE`, then ``settings`` (they win)."""
    return {"bootstrap.servers": bootstrap, **BASE, **(settings or {})}
