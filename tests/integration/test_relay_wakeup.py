"""An idle relay is woken by the ledger's commits (LISTEN/NOTIFY) instead of polling."""

from __future__ import annotations

import dataclasses
import logging
import threading
from typing import Any

import psycopg
import pytest
from psycopg.sql import SQL, Identifier

from agentledger.bootstrap import relay
from agentledger.credentials import database_url
from agentledger.settings import Settings
from consumers.relay.wakeup import StoreWakeup
from infra.ledger.ledger import Ledger
from tests.db_helpers import admin_url
from tests.relay_helpers import assert_exactly_the_store, consume_all, stored, write_events

pytestmark = pytest.mark.integration

NEVER_S = 60.0  # waits return False when they time out: True means a notification ended them


def _notify(settings: Settings, channel: str) -> None:
    with psycopg.connect(admin_url(settings), autocommit=True) as conn:
        conn.execute(SQL("NOTIFY {0}").format(Identifier(channel)))


def _channel(the_ledger: Ledger) -> str:
    return str(the_ledger.recorder.channel_name)  # type: ignore[attr-defined]  # PostgreSQL recorder


def test_a_commit_of_the_ledger_ends_the_wait(isolated: Settings, own_ledger: Ledger) -> None:
    """A waiter listening on the ledger's channel returns True when events are committed."""
    wakeup = StoreWakeup(database_url(isolated, "relay"), _channel(own_ledger))
    assert wakeup.listen()
    stop, woken = threading.Event(), []
    waiter = threading.Thread(
        target=lambda: woken.append(wakeup.wait(stop, NEVER_S, 0.01)), daemon=True
    )
    waiter.start()
    try:
        write_events(own_ledger, proposals=1)
        waiter.join(NEVER_S + 10)
        assert woken == [True], "the commit did not end the wait"
    finally:
        wakeup.close()


def test_commits_before_the_wait_end_it_at_once_and_wake_it_no_more_than_once_each(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """Commits made while nobody waits are not lost, and their pile is used up, not kept."""
    wakeup = StoreWakeup(database_url(isolated, "relay"), _channel(own_ledger))
    assert wakeup.listen()
    try:
        write_events(own_ledger, proposals=3, batch=1)  # four commits, four notifications
        stop = threading.Event()
        assert wakeup.wait(stop, NEVER_S, 0.01) is True
        later = [wakeup.wait(stop, 0.2, 0.01) for _ in range(4)]  # at most three left over
        assert later[-1] is False, later
    finally:
        wakeup.close()


def test_without_a_database_the_wait_is_a_short_poll_and_listening_is_retried_now_and_then(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A waiter that cannot connect sleeps the poll interval, tries again every retry_s, warns once."""
    unreachable = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"
    now = [100.0]
    wakeup = StoreWakeup(unreachable, "ledger_events", retry_s=30, monotonic=lambda: now[0])
    attempts: list[str] = []
    connect = psycopg.connect

    def counted(*args: Any, **kwargs: Any) -> Any:
        attempts.append(str(args[0]))
        return connect(*args, **kwargs)

    monkeypatch.setattr(psycopg, "connect", counted)
    with caplog.at_level(logging.WARNING, logger="agentledger.relay"):
        assert wakeup.listen() is False
        for _ in range(5):
            assert wakeup.wait(threading.Event(), NEVER_S, 0.01) is False
        assert len(attempts) == 1  # within retry_s of the failure: not tried again
        now[0] += 31
        assert wakeup.wait(threading.Event(), NEVER_S, 0.01) is False
        assert len(attempts) == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "polling" in warnings[0].getMessage()


def test_an_idle_relay_relays_new_events_without_waiting_out_its_timeout(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """With an idle wait of a minute, events saved while the relay idles reach Kafka at once."""
    the_relay = relay(isolated, own_ledger)
    slow = dataclasses.replace(the_relay._config, idle_wait_s=NEVER_S, idle_poll_s=NEVER_S)  # noqa: SLF001
    the_relay._config = slow  # noqa: SLF001  # idle reads only a minute apart, listening or not
    stop = threading.Event()
    thread = threading.Thread(target=the_relay.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert the_relay.active.wait(60), "relay never became active"
        write_events(own_ledger, proposals=20)
        target = own_ledger.recorder.max_notification_id() or 0
        for _ in range(int(NEVER_S * 10) // 2):  # half the idle wait: only a notification gets here
            if the_relay.position.notification_id >= target:
                break
            stop.wait(0.1)
        assert the_relay.position.notification_id == target
    finally:
        stop.set()
        _notify(isolated, _channel(own_ledger))  # ends the relay's wait so that it sees stop
        thread.join(60)
    assert not thread.is_alive()
    assert_exactly_the_store(own_ledger, consume_all(isolated, len(stored(own_ledger))))
