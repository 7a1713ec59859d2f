"""The one way a service parks a record it will never handle: a dead letter, delivered durably."""

from __future__ import annotations

import threading

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from infra.kafka_config import KafkaAccess, client_config
from infra.outages import kafka_settling
from infra.serde.deadletter import DeadLetter, count_delivered
from infra.serde.topic_serde import TopicSerde
from infra.topics import DEAD_LETTER_PRODUCER


class DeadLettersRefused(RuntimeError):
    """The broker refused dead letters for a reason waiting will not change."""


class DeadLetterSink:
    """Publishes dead letters and waits for the broker to have them (one flush at a time).

    A position may move past a record only once its letter is delivered; a letter not
    delivered yet raises :class:`KafkaException`, an outage the caller waits out, and one
    refused for good :class:`DeadLettersRefused`.
    """

    def __init__(self, kafka: KafkaAccess, serde: TopicSerde) -> None:
        """Dead letters go to ``serde``'s topic, keyed by the origin's key."""
        self._serde = serde
        self._producer = Producer(
            client_config(kafka, {"enable.idempotence": True, **DEAD_LETTER_PRODUCER})
        )
        self._one_flush = threading.Lock()

    def __call__(self, letters: list[DeadLetter]) -> None:
        """Produce and flush ``letters``; raises if the broker did not take them all."""
        failures: list[KafkaError] = []

        def delivered(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                failures.append(error)

        with self._one_flush:
            for letter in letters:
                payload = self._serde.serialize(letter)
                self._producer.produce(
                    self._serde.topic, payload, letter.key, on_delivery=delivered
                )
            remaining = self._producer.flush(30)
        lasting = [error for error in failures if not kafka_settling(error)]
        if lasting:  # refused for good (too large, not authorized, fenced): not an outage
            raise DeadLettersRefused(f"dead letters refused: {[str(e) for e in lasting[:3]]}")
        if remaining or failures:
            reason = f"dead letters not delivered: {remaining} pending, {failures[:3]}"
            raise KafkaException(KafkaError(KafkaError._MSG_TIMED_OUT, reason))  # noqa: SLF001  # librdkafka's code
        count_delivered(letters)
