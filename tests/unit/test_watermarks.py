"""Watermarks are asked again after a transient broker error, and only then."""

from __future__ import annotations

from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from infra.watermarks import watermarks

pytestmark = pytest.mark.unit

WHERE = TopicPartition("t", 0)


class _Broker:
    """Answers get_watermark_offsets with the given errors first, then (3, 9)."""

    def __init__(self, *errors: int) -> None:
        self.errors = list(errors)
        self.asked = 0

    def get_watermark_offsets(self, _partition: TopicPartition, timeout: float) -> tuple[int, int]:
        assert timeout > 0
        self.asked += 1
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return 3, 9


def test_not_leader_for_partition_is_asked_again() -> None:
    """A broker busy moving leadership answers once more before the call gives up."""
    broker = _Broker(KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError._TIMED_OUT)  # noqa: SLF001  # a public code
    assert watermarks(_as_consumer(broker), WHERE) == (3, 9)
    assert broker.asked == 3


def test_a_permanent_error_is_raised_at_once() -> None:
    """An unknown topic is not retried: the caller learns it on the first answer."""
    broker = _Broker(KafkaError.TOPIC_AUTHORIZATION_FAILED)
    with pytest.raises(KafkaException, match="TOPIC_AUTHORIZATION_FAILED"):
        watermarks(_as_consumer(broker), WHERE)
    assert broker.asked == 1


def test_a_transient_error_that_lasts_past_the_timeout_is_raised() -> None:
    """Retrying stops at the timeout with the broker's last error."""
    broker = _Broker(*[KafkaError.NOT_LEADER_FOR_PARTITION] * 100)
    with pytest.raises(KafkaException, match="NOT_LEADER_FOR_PARTITION"):
        watermarks(_as_consumer(broker), WHERE, timeout_s=0.5)
    assert 1 < broker.asked < 100


def _as_consumer(broker: _Broker) -> Any:  # stands in for a Consumer
    return broker
