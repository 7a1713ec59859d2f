"""The active executor stands by again when it loses its lock's session or its group seat."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

import psycopg
import pytest
from confluent_kafka import Consumer

from agentledger.bootstrap import executor_service
from agentledger.credentials import database_url
from agentledger.settings import Settings
from consumers.executor.service import ExecutorService
from consumers.relay.lock import RelayLock
from domain.action_state import Status
from domain.events.decisions import DecisionOutcome
from infra.connectors.registry import Connectors
from infra.kafka_config import member_config
from infra.ledger.ledger import Ledger
from tests.db_helpers import admin_url
from tests.execution_helpers import agent, decide, resource
from tests.kafka_helpers import operator
from tests.projection_helpers import projecting
from tests.service_helpers import wait_status

pytestmark = pytest.mark.integration


def _running(service: ExecutorService) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    assert service.ready.wait(60), "the executor got no partitions"
    return thread, stop


def _lock_holders(isolated: Settings, own_ledger: Ledger) -> list[int]:
    """The backends holding the executor's lock."""
    key = int.from_bytes(
        hashlib.sha256(f"relay:executor:{own_ledger.name}".encode()).digest()[:8],
        "big",
        signed=True,
    )
    with psycopg.connect(admin_url(isolated), autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = %s AND objid = %s",
            ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
        ).fetchall()
    return [pid for (pid,) in rows]


def _terminate_lock_session(isolated: Settings, own_ledger: Ledger) -> int:
    """End the session holding the executor's lock, as a database restart would; its pid."""
    (pid,) = _lock_holders(isolated, own_ledger)
    with psycopg.connect(admin_url(isolated), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    return pid


def _until(condition: Callable[[], bool], timeout_s: float, why: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, why
        time.sleep(0.1)


def test_an_executor_whose_lock_session_dies_takes_the_lock_again_and_executes(
    isolated: Settings, own_ledger: Ledger, systems: Connectors
) -> None:
    """Its lock's backend terminated (as by a database restart): it stands by, takes the lock in a new session, executes."""
    service = executor_service(isolated, own_ledger, systems)
    thread, stop = _running(service)
    try:
        first = _terminate_lock_session(isolated, own_ledger)
        _until(lambda: _lock_holders(isolated, own_ledger) not in ([], [first]), 15,
               "nobody holds the executor's lock any more")  # fmt: skip
        with projecting(isolated, own_ledger):
            aid = decide(own_ledger, agent(own_ledger), resource("crm", "contact"),
                         outcome=DecisionOutcome.ALLOW)  # fmt: skip
            wait_status(own_ledger, aid, Status.APPLIED, timeout_s=60)
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(30)


def test_an_executor_fenced_by_the_instance_that_took_its_lock_stands_by(
    isolated: Settings, own_ledger: Ledger, systems: Connectors
) -> None:
    """Another instance takes the lock and the active seat: the first stands by, and takes over when that one goes."""
    service = executor_service(isolated, own_ledger, systems)
    thread, stop = _running(service)
    other = RelayLock(database_url(isolated, "executor"), f"executor:{own_ledger.name}")
    seat = member_config(operator(isolated), service.config.group_id, "active", {})
    intruder = Consumer(seat)
    try:
        _terminate_lock_session(isolated, own_ledger)
        assert other.acquire(threading.Event(), poll_s=0.01), "the freed lock was not taken"
        intruder.subscribe([service.config.topic])
        deadline = time.monotonic() + 20
        while service.active.is_set() and time.monotonic() < deadline:
            intruder.poll(0.2)
        assert not service.active.is_set(), "the first executor went on as if active"
        assert thread.is_alive(), "it stopped instead of standing by"
        intruder.close()
        other.release()
        _until(service.active.is_set, 15, "it did not take over when the other went")
    finally:
        stop.set()
        other.release()
        thread.join(30)
