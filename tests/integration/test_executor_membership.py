"""The active executor stops being active when it loses its lock's session or its group seat."""

from __future__ import annotations

import hashlib
import threading
import time

import psycopg
import pytest
from confluent_kafka import Consumer

from agentledger.bootstrap import executor_service
from agentledger.settings import Settings
from consumers.executor.service import ExecutorService
from consumers.relay.lock import RelayLock
from infra.connectors.registry import Connectors
from infra.kafka_config import member_config
from infra.ledger.ledger import Ledger

pytestmark = pytest.mark.integration


def _running(
    service: ExecutorService,
) -> tuple[threading.Thread, threading.Event, list[BaseException]]:
    stop, failures = threading.Event(), list[BaseException]()

    def run() -> None:
        try:
            service.run(stop)
        except Exception as exc:  # noqa: BLE001  # what ended it is the finding
            failures.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert service.ready.wait(60), "the executor got no partitions"
    return thread, stop, failures


def test_an_executor_fenced_out_of_its_seat_stops_and_gives_the_lock_up(
    isolated: Settings, own_ledger: Ledger, systems: Connectors
) -> None:
    """A consumer joining as the active member fences the executor: it raises and frees the lock."""
    service = executor_service(isolated, own_ledger, systems)
    thread, stop, failures = _running(service)
    intruder = Consumer(member_config(
        isolated.kafka_bootstrap, service.config.group_id, "active", {"enable.auto.commit": False}
    ))  # fmt: skip
    try:
        intruder.subscribe([service.config.topic])
        deadline = time.monotonic() + 30
        while thread.is_alive() and time.monotonic() < deadline:
            intruder.poll(0.2)
        assert not thread.is_alive(), "the fenced executor went on as if active"
        assert failures, "it stopped without saying why"
        standby = RelayLock(isolated.database, f"executor:{own_ledger.name}")
        assert standby.acquire(threading.Event()), "the lock was not given up"
        standby.release()
    finally:
        stop.set()
        intruder.close()
        thread.join(30)


def test_an_executor_whose_lock_session_dies_stops_being_active(
    isolated: Settings, own_ledger: Ledger, systems: Connectors
) -> None:
    """Its lock's backend terminated (as by a database restart), the executor leaves its loop."""
    service = executor_service(isolated, own_ledger, systems)
    thread, stop, failures = _running(service)
    key = int.from_bytes(
        hashlib.sha256(f"relay:executor:{own_ledger.name}".encode()).digest()[:8],
        "big",
        signed=True,
    )
    try:
        with psycopg.connect(isolated.database, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND classid = %s AND objid = %s",
                ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
            ).fetchall()
        assert killed == [(True,)]
        thread.join(15)
        assert not thread.is_alive(), "the executor went on without its lock"
        assert failures == []
    finally:
        stop.set()
        thread.join(30)
