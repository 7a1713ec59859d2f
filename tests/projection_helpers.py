"""Helpers for projection tests: run the relay and some projectors, wait until they caught up."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka import Consumer, TopicPartition

from agentledger.bootstrap import projectors, relay, relay_lag
from agentledger.settings import Settings
from consumers.projector.service import Projector
from infra.ledger.ledger import Ledger
from infra.watermarks import watermarks
from tests.kafka_helpers import as_operator


def caught_up(settings: Settings, live: list[Projector], timeout_s: float = 120.0) -> None:
    """Wait until every projector's tracking rows reach the end of its topics.

    The topics are written in Kafka transactions: the last offset of a partition is a
    commit marker, never a record, so the last record is at ``high - 2``.
    """
    consumer = Consumer({**as_operator(settings), "group.id": "watermarks"})
    deadline = time.monotonic() + timeout_s
    try:
        for projector in live:
            name = projector.projection.name
            for topic in projector.projection.topics:
                for partition in range(settings.partitions):
                    where = TopicPartition(settings.topic(topic), partition)
                    _, high = watermarks(consumer, where)
                    while projector.store.positions(name).get((topic, partition), 0) < high - 1:
                        assert time.monotonic() < deadline, f"{name} behind on {topic}[{partition}]"
                        time.sleep(0.1)
    finally:
        consumer.close()


def settled(settings: Settings, the_ledger: Ledger, live: list[Projector]) -> None:
    """Wait until the relay put every stored event on Kafka and ``live`` projected it."""
    deadline = time.monotonic() + 120
    while relay_lag(settings, the_ledger) > 0:
        assert time.monotonic() < deadline, "the relay did not catch up"
        time.sleep(0.2)
    caught_up(settings, live)


@contextmanager
def projecting(settings: Settings, the_ledger: Ledger, *names: str) -> Iterator[list[Projector]]:
    """The ledger's relay and the projectors called ``names``, running in threads."""
    stop = threading.Event()
    the_relay = relay(settings, the_ledger)
    live = [p for p in projectors(settings) if p.projection.name in names]
    threads = [
        threading.Thread(target=run, args=(stop,), daemon=True)
        for run in (the_relay.run, *(p.run for p in live))
    ]
    for thread in threads:
        thread.start()
    try:
        assert the_relay.active.wait(60), "relay did not become active"
        for projector in live:
            assert projector.ready.wait(60), f"{projector.projection.name} got no partitions"
        yield live
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
