"""The decider's, the executor's and the projector's handlers, fed batches without Kafka."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID, uuid4

import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Message, TopicPartition

from consumers.decider.attempt import Tally
from consumers.decider.decider import Decider, Halted
from consumers.decider.intake import Consumed
from consumers.decider.service import DeciderHandler
from consumers.executor.executor import Outcome
from consumers.executor.service import ExecutorService, ExecutorServiceConfig
from consumers.projector.service import Projector, ProjectorConfig
from consumers.runtime.retry import Stopped
from domain.events import Authorized
from infra.kafka_config import KafkaAccess
from infra.serde.deadletter import DeadLetter
from infra.serde.errors import NotConfluentAvro

TOPIC = "t.proposals.v1"


def _messages(*offsets: int, partition: int = 0) -> list[Message]:
    return [
        Message(topic=TOPIC, partition=partition, offset=o, key=b"k", value=b"v") for o in offsets
    ]


class _Decider:
    """Fails any batch that holds a poisoned offset; counts what it decided and gave up."""

    def __init__(self, poisoned: set[int], outages: int = 0, halts: int = 0) -> None:
        self.poisoned, self.outages, self.halts = poisoned, outages, halts
        self.decided: list[int] = []
        self.given_up: list[tuple[int, str]] = []

    def next_offsets(self, _topic: str) -> dict[int, int]:
        return {0: 7}

    def handle(self, batch: list[Consumed]) -> Tally:
        if self.halts:
            self.halts -= 1
            raise Halted("emergency stop by ops")
        if self.outages:
            self.outages -= 1
            raise psycopg.OperationalError("database restarting")
        if any(c.offset in self.poisoned for c in batch):
            raise ValueError("cannot decide this one")
        self.decided += [c.offset for c in batch]
        return Tally()

    def give_up(self, consumed: Consumed, error: Exception) -> None:
        self.given_up.append((consumed.offset, str(error)))


def _decider_handler(fake: _Decider) -> DeciderHandler:
    handler = DeciderHandler(cast("Decider", fake), TOPIC, attempts=2)
    fast = dataclasses.replace(handler._policy, backoff_s=0.001, max_backoff_s=0.001)  # noqa: SLF001  # no real backoff in a unit test
    handler._policy = fast  # noqa: SLF001
    return handler


def test_the_decider_handler_isolates_the_record_at_fault_and_decides_the_rest() -> None:
    """A batch of five with offset 3 poisoned: 1, 2, 4, 5 decided; 3 given up with its error."""
    fake = _Decider({3})
    handler = _decider_handler(fake)
    handler.handle(_messages(1, 2, 3, 4, 5), threading.Event())
    assert sorted(fake.decided) == [1, 2, 4, 5]
    assert fake.given_up == [(3, "cannot decide this one")]
    assert handler.handled == 5


def test_the_decider_handler_waits_out_outages_and_the_emergency_stop_without_giving_up() -> None:
    """Two halts and four outages (more than the attempts): the batch is decided whole."""
    fake = _Decider(set(), outages=4, halts=2)
    _decider_handler(fake).handle(_messages(1, 2), threading.Event())
    assert fake.decided == [1, 2]
    assert fake.given_up == []


def test_the_decider_handler_resumes_partitions_at_the_stored_positions() -> None:
    """Partition 0 resumes at its stored position (7); partition 1, with none, from the start.

    Not where the group's committed offset says: the positions are the decider's own.
    """
    partitions = [TopicPartition(TOPIC, 0, 3), TopicPartition(TOPIC, 1, 5)]
    _decider_handler(_Decider(set())).assigned(partitions)
    assert [p.offset for p in partitions] == [7, OFFSET_BEGINNING]


def test_a_stopped_decider_handler_decides_nothing_more() -> None:
    """Stop set while the database is down: Stopped, nothing decided, nothing given up."""
    stop = threading.Event()
    stop.set()
    fake = _Decider(set(), outages=100)
    with pytest.raises(Stopped):
        _decider_handler(fake).handle(_messages(1), stop)
    assert (fake.decided, fake.given_up) == ([], [])


class _Executor:
    def __init__(self, answers: dict[UUID, list[object]]) -> None:
        self.answers = answers
        self.config = type("C", (), {"name": "unit"})()
        self.calls: list[UUID] = []

    def execute(self, action_id: UUID) -> object:
        self.calls.append(action_id)
        answer = self.answers[action_id].pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    @staticmethod
    def clock() -> datetime:
        return datetime.now(UTC)


def _authorized(action: UUID) -> Authorized:
    """An Authorized with only its action id (the handler reads nothing else)."""
    construct: Any = Authorized.model_construct
    return cast("Authorized", construct(action_id=action))


class _Serde:
    def __init__(self, records: dict[int, object]) -> None:
        self.records = records

    def read_message(self, message: Message) -> object:
        record = self.records[message.offset() or 0]
        if isinstance(record, Exception):
            raise record
        return record


def _executor_service(
    answers: dict[UUID, list[object]], records: dict[int, object]
) -> tuple[ExecutorService, list[DeadLetter], _Executor]:
    letters: list[DeadLetter] = []
    fake = _Executor(answers)
    lock = type("L", (), {"standing_by": threading.Event()})()
    config = ExecutorServiceConfig(
        kafka=KafkaAccess("127.0.0.1:1", "u", "p"), group_id="g", topic=TOPIC,
        outage_backoff_s=0.001, attempts_before_giving_up=2, workers=1,
    )  # fmt: skip
    service = ExecutorService(
        cast("Any", fake), cast("Any", None), cast("Any", _Serde(records)),
        compensations=cast("Any", None), dead_letter=letters.extend, lock=cast("Any", lock),
        config=config,
    )  # fmt: skip
    return service, letters, fake


def test_the_executor_handler_waits_while_the_resource_is_busy_then_counts_the_outcome() -> None:
    """Busy twice, then applied: three calls, one applied, no dead letter."""
    action = uuid4()
    service, letters, fake = _executor_service(
        {action: [Outcome.BUSY, Outcome.BUSY, Outcome.APPLIED]},
        {1: _authorized(action)},
    )
    service.handle(_messages(1), threading.Event())
    assert (len(fake.calls), service.outcomes[Outcome.APPLIED], letters) == (3, 1, [])


def test_the_executor_handler_dead_letters_what_keeps_failing_and_what_cannot_be_read() -> None:
    """An execution failing on its own twice and a record that is not Avro: two letters, in order."""
    action = uuid4()
    service, letters, _ = _executor_service(
        {action: [RuntimeError("connector bug"), RuntimeError("connector bug")]},
        {1: _authorized(action), 2: NotConfluentAvro("not avro")},
    )
    service.handle(_messages(1, 2), threading.Event())
    assert [(one.origin.offset, one.error_code) for one in letters] == [
        (1, "processing_failed"),
        (2, NotConfluentAvro("x").code),
    ]
    assert "connector bug" in letters[0].error


class _View:
    """A projection over topic ``observations.v1`` that refuses records named in ``refused``."""

    name, topics = "view", ("observations.v1",)


class _Store:
    """Tracking rows in memory; ``apply`` refuses a batch holding a refused record."""

    def __init__(self, refused: set[str], positions: dict[tuple[str, int], int]) -> None:
        self.refused, self.tracked = refused, positions
        self.applied: list[str] = []

    def positions(self, _name: str) -> dict[tuple[str, int], int]:
        return dict(self.tracked)

    def apply(self, _conn: object, _view: object, batch: list[Any], *, passed: Any = ()) -> int:
        if any(record in self.refused for _, record in batch):
            raise ValueError("the view cannot store this")
        for position in [*(p for p, _ in batch), *passed]:
            key = (position.topic, position.partition)
            self.tracked[key] = max(self.tracked.get(key, 0), position.offset + 1)
        self.applied += [record for _, record in batch]
        return len(batch)


class _Pool:
    @contextmanager
    def connection(self) -> Iterator[None]:
        yield None


class _Records:
    """A serde for the view's topic: payload ``junk`` is unreadable, anything else a record."""

    topic = "t.observations.v1"

    def read_message(self, message: Message) -> object:
        if message.value() == b"junk":
            raise NotConfluentAvro("not avro")
        return (message.value() or b"").decode()

    def for_another_reader(self) -> _Records:
        return self


def _projector(store: _Store) -> tuple[Projector, list[DeadLetter]]:
    letters: list[DeadLetter] = []
    config = ProjectorConfig(kafka=KafkaAccess("127.0.0.1:1", "u", "p"), group_id="g")
    projector = Projector(
        cast("Any", _View()), cast("Any", store), {"observations.v1": cast("Any", _Records())},
        config, dead_letter=letters.extend, clock=_Executor.clock,
    )  # fmt: skip
    projector._pool = cast("Any", _Pool())  # noqa: SLF001  # no database in a unit test
    return projector, letters


def _observed(*values: bytes) -> list[Message]:
    return [Message(topic="t.observations.v1", partition=0, offset=n, key=b"k", value=v)
            for n, v in enumerate(values)]  # fmt: skip


def test_the_projector_handler_dead_letters_what_it_cannot_read_or_store_and_applies_the_rest() -> (
    None
):
    """Junk and a record the view refuses: two letters; the others applied; tracking past all."""
    store = _Store({"refused"}, {})
    projector, letters = _projector(store)
    projector.handle(_observed(b"a", b"junk", b"refused", b"b"), threading.Event())
    assert store.applied == ["a", "b"]
    assert sorted((one.origin.offset, one.error_code) for one in letters) == [
        (1, NotConfluentAvro("x").code), (2, "processing_failed"),
    ]  # fmt: skip
    assert store.tracked == {("observations.v1", 0): 4}
    assert (projector.applied, projector.dead_letters) == (2, 2)


def test_the_projector_handler_resumes_at_its_tracking_rows_or_from_the_start() -> None:
    """A tracked partition resumes at its row; an untracked one from the beginning."""
    projector, _ = _projector(_Store(set(), {("observations.v1", 0): 9}))
    partitions = [
        TopicPartition("t.observations.v1", 0, 2),
        TopicPartition("t.observations.v1", 1, 2),
    ]
    projector.assigned(partitions)
    assert [p.offset for p in partitions] == [9, OFFSET_BEGINNING]
