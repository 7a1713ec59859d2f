"""kill -9 the decider while it works through a backlog: every proposal decided exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from agentledger.settings import Settings
from infra.ledger.ledger import Ledger
from tests.db_helpers import admin_url
from tests.decider_helpers import produce, register
from tests.decider_helpers import proposal as make_proposal

pytestmark = pytest.mark.chaos

CLI = Path(sys.executable).parent / "agentledger"
PROPOSALS = 3000


def _start(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AGENTLEDGER_LEDGER_NAME": settings.ledger_name,
        "AGENTLEDGER_TOPIC_PREFIX": settings.topic_prefix,
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(CLI), "decider"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _counts(settings: Settings) -> tuple[int, int, int]:
    prefix = settings.ledger_name.lower()
    with psycopg.connect(admin_url(settings)) as conn:
        decided = conn.execute(
            f"SELECT count(*), count(DISTINCT action_id) FROM {prefix}_decisions"
        ).fetchone()  # our table
        proposed = conn.execute(
            f"SELECT count(*) FROM {prefix}_events WHERE originator_version = 1 AND topic LIKE %s",
            ("%Action.Created",),
        ).fetchone()
    assert decided is not None
    assert proposed is not None
    return int(decided[0]), int(decided[1]), int(proposed[0])


def test_kill_9_during_a_backlog_loses_and_repeats_no_decision(
    isolated: Settings, own_ledger: Ledger, tmp_path: Path
) -> None:
    """SIGKILL the decider every ~2 s while it decides 3,000 proposals; after a clean restart each is decided once."""
    for index in range(20):
        register(own_ledger, f"agent-{index}")
    produce(isolated, (
        make_proposal(
            f"agent-{index % 20}", f"k{index}", parameters={"n": index}, confidence=0.9,
            resource={"system": "crm", "type": "contact", "id": str(index % 400)},
        )
        for index in range(PROPOSALS)
    ))  # fmt: skip
    log = tmp_path / "decider.log"
    kills = 0
    deadline = time.monotonic() + 300
    while _counts(isolated)[0] < PROPOSALS and kills < 6:
        assert time.monotonic() < deadline, "the decider made no progress"
        child = _start(isolated, log)
        time.sleep(4 + kills % 3)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        kills += 1
    child = _start(isolated, log)
    try:
        while _counts(isolated)[0] < PROPOSALS:
            assert time.monotonic() < deadline, f"only {_counts(isolated)} decided; see {log}"
            time.sleep(0.5)
        time.sleep(2)  # anything decided twice would show up now
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(60)
    rows, distinct, actions = _counts(isolated)
    assert kills >= 2, "the decider finished before it could be killed twice: raise PROPOSALS"
    assert (rows, distinct, actions) == (PROPOSALS, PROPOSALS, PROPOSALS)
