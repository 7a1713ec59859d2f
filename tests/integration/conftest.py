"""Integration fixtures: the real local stack (brought up if needed), and throwaway topics."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from agentledger.settings import Settings
from tests.conftest import unique
from tests.kafka_helpers import as_operator


@pytest.fixture
def admin(settings: Settings) -> AdminClient:
    """An admin client on the real broker."""
    return AdminClient({**as_operator(settings)})


@pytest.fixture
def scratch_topic(admin: AdminClient) -> Iterator[str]:
    """A fresh one-partition topic for this test, deleted afterwards."""
    name = unique("test.scratch")
    for future in admin.create_topics([NewTopic(name, 1, 1)]).values():
        future.result(timeout=30)
    yield name
    for future in admin.delete_topics([name]).values():
        future.result(timeout=30)
