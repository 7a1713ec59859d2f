"""The topic table of DESIGN.md, created explicitly with its configs."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from infra.stack.errors import StackError

FOREVER = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


@dataclass(frozen=True)
class TopicSpec:
    """One topic: name without prefix, what it carries, its configs."""

    name: str
    carries: str
    config: dict[str, str]


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("proposals.v1", "ActionProposed from agents (untrusted)", FOREVER),
    TopicSpec("actions.v1", "the Action lifecycle, relayed from the event store", FOREVER),
    TopicSpec("observations.v1", "ExternalStateObserved from the observer", FOREVER),
    TopicSpec("drift.v1", "DriftDetected / DriftResolved from the reconciler", FOREVER),
    TopicSpec("agents.v1", "agent registry events, relayed", FOREVER),
    TopicSpec("policies.v1", "PolicyBundlePublished, relayed", FOREVER),
    TopicSpec("deadletter.v1", "raw bytes + error + origin of rejected input", FOREVER),
)
"""Every topic is keyed by the resource key and has the same partition count."""


def ensure_topics(client: AdminClient, prefix: str, partitions: int) -> list[str]:
    """Create the missing topics; refuse existing ones whose partition count differs.

    Returns the names created. A different partition count would break the per-resource
    co-partitioning every consumer relies on, and Kafka cannot shrink a topic.
    """
    existing = client.list_topics(timeout=10).topics
    missing = []
    for spec in TOPICS:
        name = prefix + spec.name
        if name not in existing:
            missing.append(NewTopic(name, partitions, 1, config=spec.config))
            continue
        have = len(existing[name].partitions)
        if have != partitions:
            message = f"topic {name} has {have} partitions but the setting says {partitions}"
            raise StackError("kafka", message)
    for name, future in (
        client.create_topics(missing, operation_timeout=30).items() if missing else []
    ):
        try:
            future.result(timeout=60)
        except KafkaException as exc:
            raise StackError("kafka", f"could not create topic {name}: {exc}") from exc
    return [topic.topic for topic in missing]
