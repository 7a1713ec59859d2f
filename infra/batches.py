"""Take the messages a Kafka consumer has ready, without waiting out the timeout.

confluent-kafka's ``Consumer.consume(n, timeout)`` returns only once it holds ``n``
messages or the timeout has passed, so on a quiet topic a lone message waits the whole
timeout (measured here: 500 ms for ``consume(500, 0.5)``, 0.1 ms with this function).
:func:`ready_batch` waits at most the timeout for the first message, then takes what
has already arrived: a quiet topic costs no latency, a busy one still gives full batches.

A fatal error (e.g. the broker fenced this static group member because another consumer
joined under its ``group.instance.id``) raises: the consumer can never read again, and a
service that only logged it would go on believing it works.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from confluent_kafka import Consumer, KafkaError, KafkaException, Message

from domain.values import Record
from infra.serde.errors import BadRecord
from infra.serde.topic_serde import TopicSerde

log = logging.getLogger("agentledger.kafka")


def ready_batch(consumer: Consumer, max_messages: int, timeout_s: float) -> list[Message]:
    """Up to ``max_messages``: the first within ``timeout_s``, the rest only if already here.

    Raises :class:`KafkaException` on a fatal consumer error.
    """
    first = consumer.consume(1, timeout_s)
    if first and max_messages > 1:
        first += consumer.consume(max_messages - 1, 0)
    for message in first:
        error = message.error()
        if error is not None and (error.fatal() or error.code() == KafkaError._FATAL):  # noqa: SLF001  # librdkafka's constant
            raise KafkaException(error)
    return first


def headers_of(message: Message) -> dict[str, bytes]:
    """A record's headers by name (the last of a repeated name); unreadable ones left out."""
    try:
        raw = message.headers() or []
    except Exception:  # noqa: BLE001  # a header name not UTF-8 (SystemError): no headers
        log.warning("headers of %s[%s]@%s cannot be read; left out", message.topic(),
                    message.partition(), message.offset())  # fmt: skip
        return {}
    pairs = raw.items() if isinstance(raw, dict) else raw
    return {
        name: value if isinstance(value, bytes) else str(value or "").encode()
        for name, value in pairs
    }


def readable_to_end(
    consumer: Consumer, serde: TopicSerde, partitions: int, timeout_s: float
) -> Iterator[Record]:
    """The readable records of ``consumer`` until each of its ``partitions`` reached its end.

    The consumer must set ``enable.partition.eof``; after ``timeout_s`` it stops anyway.
    """
    at_end: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while len(at_end) < partitions and time.monotonic() < deadline:
        for message in ready_batch(consumer, 500, 0.5):
            if message.error() is not None:
                at_end.add(message.partition() or 0)
                continue
            try:
                yield serde.read_message(message)
            except BadRecord:
                continue  # dead-lettered by the readers that act on it
