"""kill -9 the relay, over and over, while the ledger writes: the topics still equal the store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agentledger.bootstrap import relay_lag
from agentledger.settings import Settings
from infra.ledger.ledger import Ledger
from tests.relay_helpers import (
    assert_exactly_the_store,
    consume_all,
    stored,
    write_events,
)

pytestmark = pytest.mark.chaos

CLI = Path(sys.executable).parent / "agentledger"


def _env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "AGENTLEDGER_LEDGER_NAME": settings.ledger_name,
        "AGENTLEDGER_TOPIC_PREFIX": settings.topic_prefix,
    }


def _start_relay(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(CLI), "relay"], env=_env(settings), stdout=out, stderr=subprocess.STDOUT
        )


def _wait_caught_up(settings: Settings, the_ledger: Ledger, timeout_s: float = 120) -> None:
    target = the_ledger.recorder.max_notification_id() or 0
    deadline = time.monotonic() + timeout_s
    while relay_lag(settings, the_ledger) > 0:
        assert time.monotonic() < deadline, f"relay did not catch up to {target} in {timeout_s}s"
        time.sleep(0.5)


def test_repeated_kill_9_loses_and_duplicates_nothing(
    isolated: Settings, own_ledger: Ledger, tmp_path: Path
) -> None:
    """Killing the relay with SIGKILL every ~1.5 s during a 20,000-event stream: consumed == stored, exactly."""
    log = tmp_path / "relay.log"
    writer = threading.Thread(target=write_events, args=(own_ledger, 6700), daemon=True)
    writer.start()
    kills = 0
    process = _start_relay(isolated, log)
    while writer.is_alive() or kills < 5:
        time.sleep(1.5)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        kills += 1
        process = _start_relay(isolated, log)
    writer.join()
    try:
        _wait_caught_up(isolated, own_ledger)
    finally:
        process.terminate()
        process.wait(30)
    expected = len(stored(own_ledger))
    assert expected >= 20_000
    assert kills >= 5
    assert_exactly_the_store(own_ledger, consume_all(isolated, expected, timeout_s=120))


def test_a_standby_takes_over_when_the_active_relay_dies(
    isolated: Settings, own_ledger: Ledger, tmp_path: Path
) -> None:
    """Two relays: one is active, one waits; SIGKILL the active one and the standby relays new events within seconds."""
    write_events(own_ledger, 20)
    first = _start_relay(isolated, tmp_path / "first.log")
    _wait_caught_up(isolated, own_ledger, 60)
    second = _start_relay(isolated, tmp_path / "second.log")
    time.sleep(2)
    assert (
        "relay active" not in (tmp_path / "second.log").read_text()
    )  # a standby while the first lives
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    started = time.monotonic()
    write_events(own_ledger, 20, first=20)
    try:
        _wait_caught_up(isolated, own_ledger, 60)
        took = time.monotonic() - started
    finally:
        second.terminate()
        second.wait(30)
    assert "relay active" in (tmp_path / "second.log").read_text()
    assert took < 30, f"takeover took {took:.1f}s"
    assert_exactly_the_store(own_ledger, consume_all(isolated, len(stored(own_ledger))))
