"""Create the topic table's topics explicitly, and keep their configs as the table says."""

from __future__ import annotations

import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
)

from infra.stack.errors import StackError
from infra.topics import TOPICS


def ensure_topics(client: AdminClient, prefix: str, partitions: int) -> list[str]:
    """Create missing topics, realign drifted configs; refuse a different partition count.

    Returns the names created. A different partition count would break the per-resource
    co-partitioning every consumer relies on, and Kafka cannot shrink a topic.
    """
    existing = client.list_topics(timeout=10).topics
    missing, present = [], []
    for spec in TOPICS:
        name = prefix + spec.name
        wanted = spec.partitions or partitions
        if name not in existing:
            missing.append(NewTopic(name, wanted, 1, config=spec.config))
            continue
        have = len(existing[name].partitions)
        if have != wanted:
            message = f"topic {name} has {have} partitions but the setting says {wanted}"
            raise StackError("kafka", message)
        present.append((name, spec.config))
    futures = client.create_topics(missing, operation_timeout=30) if missing else {}
    for name, future in futures.items():
        try:
            future.result(timeout=60)
        except KafkaException as exc:
            raise StackError("kafka", f"could not create topic {name}: {exc}") from exc
    _await_leaders(client, [topic.topic for topic in missing])
    _align_configs(client, present)
    return [topic.topic for topic in missing]


def _await_leaders(client: AdminClient, names: list[str], timeout_s: float = 30.0) -> None:
    """Wait until every partition of the new topics has a leader (usable right away)."""
    deadline = time.monotonic() + timeout_s
    while names:
        topics = client.list_topics(timeout=10).topics
        waiting = [
            name for name in names
            if name not in topics or any(p.leader < 0 for p in topics[name].partitions.values())
        ]  # fmt: skip
        if not waiting:
            return
        if time.monotonic() > deadline:
            raise StackError(
                "kafka", f"topics without a partition leader after {timeout_s:.0f}s: {waiting}"
            )
        time.sleep(0.1)


def _align_configs(client: AdminClient, topics: list[tuple[str, dict[str, str]]]) -> None:
    """Set, on existing topics, every table config whose value differs (e.g. a new limit)."""
    if not topics:
        return
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name, _ in topics]
    current = {r.name: f.result(timeout=30) for r, f in client.describe_configs(resources).items()}
    changes = []
    for name, wanted in topics:
        differing = {k: v for k, v in wanted.items() if current[name][k].value != v}
        if differing:
            entries = [
                ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)
                for key, value in differing.items()
            ]
            changes.append(
                ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=entries)
            )
    for resource, future in client.incremental_alter_configs(changes).items() if changes else []:
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            raise StackError(
                "kafka", f"could not update configs of {resource.name}: {exc}"
            ) from exc
