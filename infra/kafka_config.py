"""The librdkafka settings every Kafka client of ours starts from.

``reconnect.backoff.ms`` 10: once a new client has learnt the broker's own address from
the bootstrap connection, librdkafka (2.16) closes that connection, failing a request
still waiting on it (often the application's first metadata request), and picks the
next connection only after half the reconnect backoff: 50 ms at the default of 100
(its debug log: ``still suppressed for 49ms``). Measured here, ten new consumers each,
alternating: the first ``list_topics`` took 55 ms (median) at the default and 16 ms at
10. Reconnecting to a broker that is down still backs off exponentially, up to
``reconnect.backoff.max.ms`` (10 s).

Nagle's algorithm (``socket.nagle.disable``) was measured too and changed nothing here
(55.2 against 55.4 ms, 15.5 against 15.9 ms), so librdkafka's default stays.

A consumer group member that dies without leaving (kill -9, a lost host) holds its
partitions until its session times out: librdkafka's 45 s default stalled decisions and
executions for most of a minute after every crash. :data:`MEMBERSHIP` sets 6 s, the
smallest a broker accepts by default (``group.min.session.timeout.ms``); heartbeats run
on librdkafka's own thread, so a busy handler does not miss them. A member with a
``group.instance.id`` (static membership, KIP-345) that restarts under the same id takes
its partitions back at once, without a rebalance of the others.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

BASE: Mapping[str, Any] = {"reconnect.backoff.ms": 10}


MEMBERSHIP: Mapping[str, Any] = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000}


@dataclass(frozen=True)
class KafkaAccess:
    """Where the brokers are, and who this client is to them (a SCRAM-SHA-512 user).

    Every client authenticates: the broker has no listener for anonymous clients. The
    password never appears in ``repr`` (logs, tracebacks).
    """

    bootstrap: str
    username: str
    password: str = field(repr=False)
    protocol: str = "SASL_PLAINTEXT"
    """``SASL_PLAINTEXT`` (the local stack, loopback only) or ``SASL_SSL``."""

    def scratch_group(self, purpose: str) -> str:
        """A new group id for a reader that never commits, in this user's own group space."""
        return f"{self.username}.{purpose}-{uuid.uuid4()}"

    def sasl(self) -> dict[str, str]:
        """Librdkafka's authentication settings for this principal."""
        return {
            "security.protocol": self.protocol, "sasl.mechanism": MECHANISM,
            "sasl.username": self.username, "sasl.password": self.password,
        }  # fmt: skip


MECHANISM = "SCRAM-SHA-512"


def client_config(kafka: KafkaAccess, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A client's configuration: ``kafka``'s address and credential, :data:`BASE`, ``settings``."""
    return {"bootstrap.servers": kafka.bootstrap, **kafka.sasl(), **BASE, **(settings or {})}


def member_config(
    kafka: KafkaAccess, group: str, instance: str | None, settings: Mapping[str, Any]
) -> dict[str, Any]:
    """A consumer group member's configuration (see :data:`MEMBERSHIP`).

    ``instance`` names the member for static membership (``<group>.<instance>``); at most
    one running consumer may use it, or the broker fences the other. ``None``: dynamic.
    """
    named = {} if instance is None else {"group.instance.id": f"{group}.{instance}"}
    return client_config(kafka, {"group.id": group, **MEMBERSHIP, **named, **settings})
