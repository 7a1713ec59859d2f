"""kill -9 the executor between the connector call and recording it: applied exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agentledger.bootstrap import relay
from agentledger.settings import Settings
from domain.action_state import Status
from domain.events.decisions import DecisionOutcome
from domain.values import ResourceRef
from infra.connectors.base import Connector, Mutation, Operation
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger
from tests.execution_helpers import agent, decide, event_names, resource
from tests.service_helpers import wait_status

pytestmark = pytest.mark.chaos
CLI = Path(sys.executable).parent / "agentledger"


def _executor(settings: Settings, log: Path, failpoints: str = "") -> subprocess.Popen[bytes]:
    env = {
        **os.environ, "AGENTLEDGER_LEDGER_NAME": settings.ledger_name,
        "AGENTLEDGER_TOPIC_PREFIX": settings.topic_prefix, "AGENTLEDGER_FAILPOINTS": failpoints,
    }  # fmt: skip
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(CLI), "executor"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _last_change(connector: Connector, ref: ResourceRef) -> int:
    """The sequence of ``ref``'s newest change, read page by page (the CRM caps a page)."""
    since, last = 0, None
    while page := connector.changes(since, 1000):
        last = max((c.sequence for c in page if c.resource == ref), default=last)
        since = page[-1].sequence
    assert last is not None, f"no change of {ref.key} in the feed"
    return last


@pytest.mark.parametrize("system", ["billing", "crm"])
def test_a_crash_after_the_call_and_before_the_record_applies_the_change_once(
    isolated: Settings, own_ledger: Ledger, systems: Connectors, tmp_path: Path, system: str
) -> None:
    """The first executor dies by SIGKILL right after the system applied; the restarted one re-drives with the same key."""
    ref = ResourceRef.parse(resource(system, "contact"))
    connector = systems[system]
    seeded = connector.apply(
        Mutation(ref, Operation.UPSERT, {"tier": "silver"}), f"seed-{ref.key}", None
    )
    since = _last_change(connector, ref)
    aid = decide(
        own_ledger,
        agent(own_ledger),
        ref.key,
        outcome=DecisionOutcome.ALLOW,
        parameters={"tier": "gold"},
    )
    stop = threading.Event()
    the_relay = threading.Thread(target=relay(isolated, own_ledger).run, args=(stop,), daemon=True)
    the_relay.start()
    log = tmp_path / "executor.log"
    try:
        crashed = _executor(isolated, log, failpoints="executor.after_apply")
        assert crashed.wait(120) == -9, log.read_text()
        assert (
            wait_status(own_ledger, aid, Status.EXECUTING, timeout_s=5).status is Status.EXECUTING
        )
        assert connector.current(ref).fields["tier"] == "gold"
        restarted = _executor(isolated, log)
        try:
            applied = wait_status(own_ledger, aid, Status.APPLIED, timeout_s=120)
        finally:
            restarted.terminate()
            restarted.wait(60)
    finally:
        stop.set()
        the_relay.join(60)
    after = [c for c in connector.changes(since, 10**6) if c.resource == ref]
    assert len(after) == 1, f"the change must reach {system} exactly once: {after}"
    assert after[0].version == connector.current(ref).version != seeded.external_version
    names = event_names(own_ledger, aid)
    assert names.count("ExecutionStarted") == 1
    assert names.count("MutationApplied") == 1
    assert applied.status is Status.APPLIED
    assert "re-driving" in log.read_text()
