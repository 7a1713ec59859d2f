"""Cut the decider and the relay off from PostgreSQL while proposals arrive: both wait."""

from __future__ import annotations

import base64
import dataclasses
import threading
import time
import uuid
from urllib.parse import urlsplit

import psycopg
import pytest
from confluent_kafka import Consumer

from agentledger.bootstrap import catalog, executor_service, registrar, relay
from agentledger.credentials import database_url
from agentledger.seal_key import ledger_seal, local_key
from agentledger.settings import Settings
from domain.action_state import Status
from domain.events.decisions import DecisionOutcome
from infra.connectors.registry import Connectors
from infra.database_roles import OPERATOR
from infra.ledger.ledger import Ledger, postgres_env
from infra.stack.secrets import write_private
from tests.db_helpers import admin_url
from tests.decider_helpers import produce, proposal, read_topic, register, running
from tests.execution_helpers import agent, decide, resource
from tests.kafka_helpers import as_operator
from tests.outage_proxy import OutageProxy, outage_proxy
from tests.service_helpers import wait_status

pytestmark = pytest.mark.chaos

BEFORE, DURING, AFTER = 40, 80, 40
ACTIONS = 6
OUTAGE_S = 30.0
"""Longer than the relay's read retries (10, each waiting up to CONNECT_TIMEOUT_S)."""
CONNECT_TIMEOUT_S = 2
"""How long the proxied ledger waits for a pooled connection (30 s by default)."""


def test_a_database_outage_is_waited_out_and_every_proposal_decided_once(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """The decider and the relay lose PostgreSQL for 30 seconds while proposals arrive.

    Nothing is dead-lettered: after the outage every proposal is decided exactly once and
    every decision reaches actions.v1. The ledger waits 2 s for a connection instead of
    30, so the outage outlasts many tries. (Both took the ledger's wrapped outage error
    for a failure of their own: the decider isolated and dead-lettered the batch's
    proposals after three tries; the relay stopped when its read retries ran out.)
    """
    register(own_ledger, "bot")
    url = urlsplit(database_url(isolated, OPERATOR))
    with outage_proxy((url.hostname or "127.0.0.1", url.port or 5432)) as proxy:
        cut_off, proxied = _behind(proxy, isolated)
        try:
            with running(cut_off, proxied, answer=False):  # it counts decisions in the ledger
                _propose(isolated, range(BEFORE))
                _wait_for_decisions(isolated, BEFORE)
                proxy.cut()
                _propose(isolated, range(BEFORE, BEFORE + DURING))
                time.sleep(OUTAGE_S)
                proxy.restore()
                _propose(isolated, range(BEFORE + DURING, BEFORE + DURING + AFTER))
                total = BEFORE + DURING + AFTER
                assert _wait_for_decisions(isolated, total) == (total, total)
                assert _decided_on_topic(isolated, total) == total
        finally:
            proxied.close()
    _assert_refused_connections(proxy)
    assert read_topic(isolated, "deadletter.v1", until=1, timeout_s=3) == []


def test_the_executor_waits_out_an_outage_and_applies_every_authorized_action(
    isolated: Settings, own_ledger: Ledger, systems: Connectors
) -> None:
    """Authorized actions reach the executor while its ledger is unreachable for 30 s.

    The relay reads the ledger directly; only the executor is cut off. Every action is
    applied once the database is back, and none is dead-lettered. (The executor took
    the ledger's wrapped outage error for a failing step: after its tries it
    dead-lettered the Authorized record, and the action was never executed; and its
    periodic look for due retries, failing, stopped it.)
    """
    url = urlsplit(database_url(isolated, OPERATOR))
    stop = threading.Event()
    with outage_proxy((url.hostname or "127.0.0.1", url.port or 5432)) as proxy:
        cut_off, proxied = _behind(proxy, isolated)
        service = executor_service(cut_off, proxied, systems)
        # eventsourcing retries a read for ~20 s itself; give up after one failed try, so
        # the outage outlasts what the executor tolerates for a failure of its own
        service.config = dataclasses.replace(service.config, attempts_before_giving_up=1)
        threads = [
            threading.Thread(target=relay(isolated, own_ledger).run, args=(stop,), daemon=True),
            threading.Thread(target=service.run, args=(stop,), daemon=True),
        ]
        for thread in threads:
            thread.start()
        try:
            assert service.ready.wait(60), "the executor got no partitions"
            proxy.cut()
            bot = agent(own_ledger)
            actions = [
                decide(
                    own_ledger, bot, resource("billing", "invoice"), outcome=DecisionOutcome.ALLOW
                )
                for _ in range(ACTIONS)
            ]
            time.sleep(OUTAGE_S)
            proxy.restore()
            for aid in actions:
                wait_status(own_ledger, aid, Status.APPLIED, timeout_s=120)
            assert all(thread.is_alive() for thread in threads)
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
            proxied.close()
    assert proxy.refused > 0
    assert read_topic(isolated, "deadletter.v1", until=1, timeout_s=3) == []


def _behind(proxy: OutageProxy, settings: Settings) -> tuple[Settings, Ledger]:
    """Settings and a ledger reaching the database through ``proxy`` (short pool wait)."""
    url = urlsplit(database_url(settings, OPERATOR))
    through = url._replace(netloc=url.netloc.replace(f":{url.port}", f":{proxy.port}"))
    key_file = settings.state_dir / f"seal-{proxy.port}.key"  # the same store, reached otherwise
    write_private(key_file, base64.b64encode(local_key(settings)).decode())
    cut_off = settings.model_copy(
        update={"database_url": through.geturl(), "ledger_seal_key_file": key_file}
    )
    env = postgres_env(cut_off.database, pool_size=5)
    env["POSTGRES_CONNECT_TIMEOUT"] = str(CONNECT_TIMEOUT_S)
    return cut_off, Ledger(env, catalog(), cut_off.ledger_name, seal=ledger_seal(cut_off))


def _propose(settings: Settings, indexes: range) -> None:
    produce(settings, (
        proposal("bot", f"outage-{i}", resource={"system": "crm", "type": "contact", "id": str(i)})
        for i in indexes
    ))  # fmt: skip


def _wait_for_decisions(settings: Settings, count: int, timeout_s: float = 120) -> tuple[int, int]:
    """(decision rows, distinct actions) once ``count`` actions are decided."""
    deadline = time.monotonic() + timeout_s
    table = f"{settings.ledger_name.lower()}_decisions"
    while True:
        with psycopg.connect(admin_url(settings)) as conn:
            row = conn.execute(
                f"SELECT count(*), count(DISTINCT action_id) FROM {table}"
            ).fetchone()  # our table
        assert row is not None
        if row[1] >= count or time.monotonic() > deadline:
            return int(row[0]), int(row[1])
        time.sleep(0.2)


def _decided_on_topic(settings: Settings, count: int, timeout_s: float = 60) -> int:
    """PolicyDecided records visible (read_committed) on actions.v1, once ``count`` are."""
    ids = registrar(settings).register([catalog()["PolicyDecided"]])
    decided = ids["agentledger.v1.PolicyDecided"].to_bytes(4, "big")
    consumer = Consumer({
        **as_operator(settings), "group.id": f"check-{uuid.uuid4()}",
        "isolation.level": "read_committed", "auto.offset.reset": "earliest",
    })  # fmt: skip
    consumer.subscribe([settings.topic("actions.v1")])
    found, deadline = 0, time.monotonic() + timeout_s
    try:
        while found < count and time.monotonic() < deadline:
            for message in consumer.consume(1000, timeout=0.5):
                if message.error() is None and (message.value() or b"")[1:5] == decided:
                    found += 1
    finally:
        consumer.close()
    return found


def _assert_refused_connections(proxy: OutageProxy) -> None:
    """The services did try to reach the database during the outage (it really was cut)."""
    assert proxy.refused > 0
