"""A reconciler left without input for longer than Kafka's transaction timeout still works."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from confluent_kafka import Producer

from agentledger.bootstrap import topic_serdes
from agentledger.settings import Settings
from consumers.observer.records import observation_of
from domain.values import ResourceRef
from infra.connectors.base import Change
from infra.partitioner import partition_for
from tests.drift_helpers import detected, fast, running_reconciler, wait_for
from tests.kafka_helpers import as_operator
from tests.provenance_helpers import owners_headers
from tests.relay_helpers import drop_isolated, isolated_settings

pytestmark = pytest.mark.integration

TRANSACTION_TIMEOUT_S = 60
"""aiokafka's default ``transaction_timeout_ms``: the broker aborts a transaction open longer."""


def test_an_edit_after_a_long_quiet_spell_is_still_reported(tmp_path: Path) -> None:
    """Quiet for over a minute, then an out-of-band edit: the alert still comes.

    Ticks on a partition without input must not wait in a transaction nothing commits:
    the broker aborts it after the timeout and fences the partition's producer.
    """
    settings = fast(isolated_settings(Settings()))
    try:
        with running_reconciler(settings, tmp_path / "reconciler.log"):
            time.sleep(TRANSACTION_TIMEOUT_S + 10)
            ref = ResourceRef(system="crm", type="contact", id=uuid.uuid4().hex[:12])
            serde = topic_serdes(settings, "observations.v1")["observations.v1"]
            producer = Producer({**as_operator(settings)})
            key = ref.key.encode()
            for sequence, tier in enumerate(["silver", "bronze"], start=1):
                now = datetime.now(UTC)
                change = Change(
                    sequence=sequence, resource=ref, version=str(sequence),
                    fields={"tier": tier}, deleted=False, changed_at=now,
                )  # fmt: skip
                payload = serde.serialize(observation_of("crm", change, now))
                place = partition_for(key, settings.partitions)
                producer.produce(
                    serde.topic, payload, key, partition=place,
                    headers=owners_headers(settings, "observations.v1", place, key, payload),
                )  # fmt: skip
            assert producer.flush(30) == 0
            records = wait_for(settings, lambda r: bool(detected(r, ref.key)), 30)
            assert [a.drift_class for a in detected(records, ref.key)] == ["out_of_band_change"]
    finally:
        drop_isolated(settings)
