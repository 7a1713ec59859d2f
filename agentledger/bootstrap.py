"""The composition root: the one place that reads settings and builds the object graph."""

from __future__ import annotations

from agentledger.settings import Settings
from infra.stack.config import StackConfig
from infra.stack.downloads import Report
from infra.stack.stack import Stack


def stack_config(settings: Settings) -> StackConfig:
    """The local stack's view of the settings, addresses resolved."""
    return StackConfig(
        state_dir=settings.state_dir.resolve(),
        cache_dir=settings.cache_dir.resolve(),
        bootstrap_servers=settings.kafka_bootstrap,
        kafka_local=not settings.kafka_external,
        kafka_port=settings.kafka_port,
        kafka_controller_port=settings.kafka_controller_port,
        kafka_version=settings.kafka_version,
        kafka_heap=settings.kafka_heap,
        registry_url=settings.registry,
        registry_local=not settings.registry_external,
        registry_port=settings.registry_port,
        apicurio_version=settings.apicurio_version,
        registry_heap=settings.registry_heap,
        database_url=settings.database,
        database_local=not settings.database_external,
        postgres_port=settings.postgres_port,
        topic_prefix=settings.topic_prefix,
        partitions=settings.partitions,
        start_timeout_s=settings.start_timeout_s,
    )


def build_stack(settings: Settings, report: Report) -> Stack:
    """The local stack for ``settings``; ``report`` receives progress lines."""
    return Stack(stack_config(settings), report)
