"""Every long-running service in one process (threads): the demo, `agentledger serve`, tests.

In production each service runs as its own process (`agentledger relay`, `decider`,
`executor`, `expirer`, `observer`, `api`); together in one process they are handy
for a demo or a laptop.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from uuid import UUID

from confluent_kafka import Consumer, TopicPartition

from agentledger.bootstrap import (
    decider_service,
    executor_service,
    expirer,
    observer,
    projectors,
    relay,
    topic_serdes,
)
from agentledger.credentials import kafka_access
from agentledger.settings import Settings
from domain.action import Action
from domain.action_state import Status
from domain.events import ExternalStateObserved
from domain.values import ResourceRef
from infra.batches import ready_batch
from infra.connectors.registry import Connectors
from infra.kafka_acls import OPERATOR
from infra.kafka_config import client_config
from infra.ledger.ledger import Ledger
from infra.watermarks import offsets_since

START_TIMEOUT_S = 60.0


@contextmanager
def services(
    settings: Settings,
    the_ledger: Ledger,
    systems: Connectors,
    *,
    decide: bool = True,
    observe: bool = True,
) -> Iterator[None]:
    """Run the services until the block ends; ``decide`` adds the relay and the decider."""
    stop = threading.Event()
    executor = executor_service(settings, the_ledger, systems)
    waits: list[tuple[str, threading.Event]] = [("the executor", executor.ready)]
    runners: list[Callable[[threading.Event], None]] = [
        executor.run, expirer(settings, the_ledger).run,
    ]  # fmt: skip
    if decide:
        the_relay, decider = relay(settings, the_ledger), decider_service(settings, the_ledger)
        runners += [the_relay.run, decider.run]
        waits += [("the relay", the_relay.active), ("the decider", decider.ready)]
    if observe:
        the_observer = observer(settings, systems)
        runners.append(the_observer.run)
        waits.append(("the observer", the_observer.ready))
    for projector in projectors(settings):  # the decider reads the actual-state view
        runners.append(projector.run)
        waits.append((f"the {projector.projection.name} projector", projector.ready))
    threads = [threading.Thread(target=run, args=(stop,), daemon=True) for run in runners]
    for thread in threads:
        thread.start()
    try:
        for name, ready in waits:
            if not ready.wait(START_TIMEOUT_S):
                raise RuntimeError(f"{name} did not start within {START_TIMEOUT_S:.0f} s")
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(START_TIMEOUT_S)


class NotReached(RuntimeError):
    """An action did not reach the awaited status in time."""


def wait_until(the_ledger: Ledger, aid: UUID, wanted: set[Status], timeout_s: float) -> Action:
    """The action once its status is one of ``wanted``; :class:`NotReached` otherwise."""
    deadline = time.monotonic() + timeout_s
    status = None
    while time.monotonic() < deadline:
        try:
            action: object = the_ledger.repository.get(aid)
        except Exception:  # noqa: BLE001  # not recorded yet
            action = None
        if isinstance(action, Action):
            status = action.status
            if status in wanted:
                return action
        time.sleep(0.1)
    raise NotReached(f"action {aid} is {status}, not {sorted(wanted)}, after {timeout_s:.0f} s")


def observations_since(
    settings: Settings, since_s: float, refs: set[ResourceRef], timeout_s: float = 10.0
) -> list[ExternalStateObserved]:
    """Observations of ``refs`` on ``observations.v1`` produced after ``since_s`` (epoch s)."""
    serde = topic_serdes(settings, "observations.v1")["observations.v1"]
    consumer = Consumer(client_config(kafka_access(settings, OPERATOR), {
        "group.id": f"look-{uuid.uuid4()}",
        "isolation.level": "read_committed", "enable.auto.commit": False,
        "enable.partition.eof": True,
    }))  # fmt: skip
    found: list[ExternalStateObserved] = []
    try:
        starts = [TopicPartition(serde.topic, p, int(since_s * 1000) - 5000)
                  for p in range(settings.partitions)]  # fmt: skip
        consumer.assign(offsets_since(consumer, starts))
        at_end: set[int] = set()
        deadline = time.monotonic() + timeout_s
        while len(at_end) < settings.partitions and time.monotonic() < deadline:
            for message in ready_batch(consumer, 500, 0.5):
                if message.error() is not None:
                    at_end.add(message.partition() or 0)
                    continue
                record = serde.deserialize(message.value())
                if isinstance(record, ExternalStateObserved) and record.resource in refs:
                    found.append(record)
    finally:
        consumer.close()
    return found
