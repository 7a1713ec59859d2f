"""A ledger and topics of a benchmark's own, removed afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka.admin import AdminClient

from agentledger.bootstrap import provision, unprovision
from agentledger.credentials import kafka_access
from agentledger.settings import Settings
from infra.kafka_acls import OPERATOR
from infra.kafka_config import client_config
from infra.topics import TOPICS


@contextmanager
def isolated(settings: Settings) -> Iterator[Settings]:
    """Settings naming a fresh ledger table and topic prefix; both dropped on exit."""
    tag = uuid.uuid4().hex[:8]
    mine = settings.model_copy(update={"ledger_name": f"B{tag}", "topic_prefix": f"b{tag}."})
    admin = AdminClient(client_config(kafka_access(mine, OPERATOR)))
    provision(mine)
    try:
        yield mine
    finally:
        # the topic table's topics and any a service made for itself (faust's changelogs)
        names = [name for name in admin.list_topics(timeout=10).topics
                 if name.startswith(mine.topic_prefix)]  # fmt: skip
        names = sorted(set(names) | {mine.topic(spec.name) for spec in TOPICS})
        for future in admin.delete_topics(names, operation_timeout=30).values():
            future.exception(30)
        unprovision(mine)
