"""Every long-running service in one process (threads): the demo, `agentledger serve`, tests.

In production each service runs as its own process (`agentledger relay`, `decider`,
`executor`, `expirer`, `observer`, `api`); together in one process they are handy
for a demo or a laptop.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from uuid import UUID

from confluent_kafka import Consumer, TopicPartition

from agentledger.api.server import ApiServer
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
from infra.batches import readable_to_end
from infra.connectors.registry import Connectors
from infra.kafka_acls import OPERATOR
from infra.kafka_config import client_config
from infra.ledger.ledger import Ledger
from infra.watermarks import offsets_since

START_TIMEOUT_S = 60.0


Runner = tuple[str, Callable[[threading.Event], None], threading.Event | None]
"""A service to run: its name, its ``run(stop)``, and the event it sets once ready (if any)."""


@contextmanager
def services(
    settings: Settings,
    the_ledger: Ledger,
    systems: Connectors,
    *,
    decide: bool = True,
    observe: bool = True,
) -> Iterator[None]:
    """Run the services until the block ends; ``decide`` adds the relay and the decider.

    The HTTP API runs too, on ``api_port``: agents learn their decisions from it.
    """
    executor = executor_service(settings, the_ledger, systems)
    the_expirer = expirer(settings, the_ledger)
    runners: list[Runner] = [
        ("the executor", executor.run, executor.ready),
        ("the expirer", the_expirer.run, None),
    ]
    if decide:
        the_relay, decider = relay(settings, the_ledger), decider_service(settings, the_ledger)
        runners += [("the relay", the_relay.run, the_relay.active),
                    ("the decider", decider.run, decider.ready)]  # fmt: skip
    if observe:
        the_observer = observer(settings, systems)
        runners.append(("the observer", the_observer.run, the_observer.ready))
    for projector in projectors(settings):  # the decider reads the actual-state view
        runners.append(
            (f"the {projector.projection.name} projector", projector.run, projector.ready)
        )
    api = ApiServer(settings, the_ledger, systems)
    runners.append(("the API", api.run, api.ready))
    with running(runners):
        yield


@contextmanager
def answering(settings: Settings, the_ledger: Ledger) -> Iterator[None]:
    """The HTTP API and the timeline view: all an agent needs to learn its decisions."""
    (timeline,) = projectors(settings, ["timeline"])
    api = ApiServer(settings, the_ledger, None)
    with running([("the timeline projector", timeline.run, timeline.ready),
                  ("the API", api.run, api.ready)]):  # fmt: skip
        yield


@contextmanager
def running(runners: list[Runner]) -> Iterator[None]:
    """Each runner in a thread until the block ends, once every one with a ready event is."""
    stop = threading.Event()
    threads = [threading.Thread(target=run, args=(stop,), daemon=True) for _, run, _ in runners]
    for thread in threads:
        thread.start()
    try:
        for name, _, started in runners:
            if started is not None and not started.wait(START_TIMEOUT_S):
                raise RuntimeError(f"{name} did not start within {START_TIMEOUT_S:.0f} s")
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(START_TIMEOUT_S)


def with_own_api_port(settings: Settings) -> Settings:
    """``settings`` with a free loopback port for an in-process API (the demo's)."""
    with socket.socket() as probe:
        probe.bind((settings.api_host, 0))
        port = int(probe.getsockname()[1])
    return settings.model_copy(update={"api_port": port, "api_url": None})


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
        found = [
            record for record in readable_to_end(consumer, serde, settings.partitions, timeout_s)
            if isinstance(record, ExternalStateObserved) and record.resource in refs
        ]  # fmt: skip
    finally:
        consumer.close()
    return found
