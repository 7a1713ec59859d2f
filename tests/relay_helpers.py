"""Helpers for relay tests: an isolated ledger and topics, event writers, readers."""

from __future__ import annotations

import shutil
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from confluent_kafka import Consumer, KafkaError
from confluent_kafka.admin import AdminClient

from agentledger.bootstrap import provision, relay, system_context, unprovision
from agentledger.settings import Settings
from domain.events import ActionProposed
from domain.events.decisions import DecisionOutcome, Obligations
from infra.chain import NOTIFICATION
from infra.ledger.ledger import Ledger
from infra.topics import TOPICS
from tests.conftest import free_ports
from tests.kafka_helpers import as_operator

RELAYED = ("actions.v1", "agents.v1", "policies.v1")


def isolated_settings(base: Settings) -> Settings:
    """Settings for a ledger and topics no other test uses."""
    tag = uuid.uuid4().hex[:8]
    settings = base.model_copy(update={
        "ledger_name": f"T{tag}", "topic_prefix": f"t{tag}.", "api_port": free_ports(1)[0],
    })  # fmt: skip
    provision(settings)
    return settings


def drop_isolated(settings: Settings) -> None:
    """Delete the isolated ledger's table and topics."""
    admin = AdminClient({**as_operator(settings)})
    # the topic table's topics and any a service made for itself (faust's changelogs)
    names = [name for name in admin.list_topics(timeout=10).topics
             if name.startswith(settings.topic_prefix)]  # fmt: skip
    names = sorted(set(names) | {settings.topic(spec.name) for spec in TOPICS})
    for future in admin.delete_topics(names, operation_timeout=30).values():
        future.exception(30)
    unprovision(settings)
    shutil.rmtree(settings.checkpoints(), ignore_errors=True)


def write_events(
    the_ledger: Ledger, proposals: int, batch: int = 50, agents: int = 5, first: int = 0
) -> None:
    """Register agents, then propose and allow ``proposals`` actions (3 events each), keys from ``first``."""
    ctx = system_context()
    with the_ledger.batch(ctx) as tx:
        for index in range(agents):
            tx.register_agent(
                agent_id=f"agent-{index}",
                name="A",
                owner="o",
                scopes=["*"],
                budget_limit=Decimal(10**9),
            )
    ob = Obligations(approvals_required=0, approver_roles=[], extra={})
    for start in range(first, first + proposals, batch):
        with the_ledger.batch(system_context()) as tx:
            for index in range(start, min(start + batch, first + proposals)):
                aid, _ = tx.propose(_proposal(index, agents))
                tx.decide(
                    aid,
                    outcome=DecisionOutcome.ALLOW,
                    reasons=[],
                    obligations=ob,
                    bundle_digest="d",
                    bundle_version="1",
                    input_digest="i",
                )


def _proposal(index: int, agents: int) -> ActionProposed:
    return ActionProposed.model_validate({
        "metadata": {"event_id": uuid.uuid4(), "correlation_id": uuid.uuid4(), "occurred_at": datetime.now(UTC)},
        "agent_id": f"agent-{index % agents}", "idempotency_key": f"key-{index}",
        "resource": {"system": "crm", "type": "contact", "id": str(index % 97)},
        "action_type": "contact.update", "parameters": {"n": index}, "preconditions": {}, "confidence": 0.9,
    })  # fmt: skip


@dataclass(frozen=True)
class Relayed:
    """One record as consumed: where it was, its key and notification id."""

    topic: str
    partition: int
    key: str
    notification_id: int


def stored(the_ledger: Ledger) -> list[tuple[int, str]]:
    """(notification id, route key) of every stored record, in store order."""
    out: list[tuple[int, str]] = []
    start = 1
    while page := the_ledger.recorder.select_notifications(start=start, limit=5000):
        for notification in page:
            header, _print, _body = the_ledger.transcoder.split(notification.state)
            out.append((notification.id, header["_route"][1]))
        start = page[-1].id + 1
    return out


def consume_all(settings: Settings, expected: int, timeout_s: float = 60.0) -> list[Relayed]:
    """Every committed record of the relayed topics (read_committed), in partition order."""
    consumer = Consumer({
        **as_operator(settings), "group.id": f"check-{uuid.uuid4()}",
        "isolation.level": "read_committed", "auto.offset.reset": "earliest", "enable.auto.commit": False,
    })  # fmt: skip
    consumer.subscribe([settings.topic(name) for name in RELAYED])
    records: list[Relayed] = []
    deadline = datetime.now(UTC).timestamp() + timeout_s
    while len(records) < expected and datetime.now(UTC).timestamp() < deadline:
        for message in consumer.consume(5000, timeout=1.0):
            error = message.error()
            if error is not None and error.code() != KafkaError._PARTITION_EOF:  # noqa: SLF001
                raise AssertionError(error)
            if error is None:
                headers = dict(message.headers() or [])
                raw = headers[NOTIFICATION] or b"0"
                notification = int(raw.decode() if isinstance(raw, bytes) else raw)
                records.append(
                    Relayed(
                        message.topic() or "",
                        message.partition() or 0,
                        (message.key() or b"").decode(),
                        notification,
                    )
                )
    consumer.close()
    return records


def assert_exactly_the_store(the_ledger: Ledger, records: list[Relayed]) -> None:
    """Consumed = stored: no gap, no duplicate, store order per key."""
    expected = stored(the_ledger)
    ids = sorted(r.notification_id for r in records)
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicates"
    assert ids == [nid for nid, _ in expected], f"consumed {len(ids)}, stored {len(expected)}"
    per_key: dict[str, list[int]] = {}
    for record in records:
        per_key.setdefault(record.key, []).append(record.notification_id)
    for key, sequence in per_key.items():
        assert sequence == sorted(sequence), f"key {key} out of store order"
    assert {r.key for r in records} == {key for _, key in expected}


def relay_until_caught_up(
    settings: Settings, the_ledger: Ledger, timeout_s: float = 60, target: int | None = None
) -> None:
    """Run the ledger's relay until it relayed everything stored now (or ``target``), then stop it."""
    the_relay = relay(settings, the_ledger)
    stop = threading.Event()
    thread = threading.Thread(target=the_relay.run, args=(stop,), daemon=True)
    thread.start()
    target = target or the_ledger.recorder.max_notification_id() or 0
    try:
        assert the_relay.active.wait(30), "relay never became active"
        waited = 0.0
        while the_relay.position.notification_id < target and waited < timeout_s:
            stop.wait(0.1)
            waited += 0.1
        assert the_relay.position.notification_id == target
    finally:
        stop.set()
        thread.join(30)
