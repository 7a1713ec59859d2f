"""`agentledger plan`, `policy input` and `policy replay` as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agentledger.bootstrap import decider, topic_serdes
from agentledger.settings import Settings
from consumers.decider.intake import Consumed
from infra.ledger.ledger import Ledger
from tests.conftest import run_cli
from tests.decider_helpers import proposal, register

pytestmark = pytest.mark.e2e
POLICIES = Path(__file__).resolve().parents[2] / "policies"


def _env(settings: Settings) -> dict[str, str]:
    return {
        "AGENTLEDGER_TOPIC_PREFIX": settings.topic_prefix,
        "AGENTLEDGER_LEDGER_NAME": settings.ledger_name,
    }


def _decide(settings: Settings, the_ledger: Ledger, count: int) -> None:
    serde = topic_serdes(settings, "proposals.v1")["proposals.v1"]
    batch = [
        Consumed(
            serde.topic, 0, i, b"k", serde.serialize(proposal("bot", f"k{i}", confidence=0.8)), {}
        )
        for i in range(count)
    ]
    decider(settings, the_ledger).handle(batch)


def test_plan_prints_the_decision_and_records_nothing(
    isolated: Settings, own_ledger: Ledger, tmp_path: Path
) -> None:
    """A dry run returns outcome, reasons and obligations as JSON; the store is unchanged."""
    register(own_ledger, "bot")
    before = own_ledger.recorder.max_notification_id()
    file = tmp_path / "proposal.json"
    file.write_text(json.dumps({
        "agent_id": "bot", "idempotency_key": "dry", "resource": {"system": "crm", "type": "contact", "id": "1"},
        "action_type": "contact.delete", "parameters": {}, "preconditions": {}, "confidence": 0.9,
    }))  # fmt: skip
    done = run_cli("plan", str(file), env=_env(isolated))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["outcome"] == "require_approval"
    assert result["obligations"]["approvals_required"] == 2
    assert {"high_risk_action", "irreversible_action"} <= {r["code"] for r in result["reasons"]}
    assert own_ledger.recorder.max_notification_id() == before


def test_plan_refuses_an_unknown_agent_an_unknown_action_type_and_a_malformed_file(
    isolated: Settings, own_ledger: Ledger, tmp_path: Path
) -> None:
    """Unknown agent or type outside the catalog: exit 1 naming the rule; malformed: exit 2."""
    file = tmp_path / "proposal.json"
    file.write_text(json.dumps({
        "agent_id": "ghost", "idempotency_key": "x", "resource": {"system": "crm", "type": "contact", "id": "1"},
        "action_type": "contact.update", "parameters": {}, "preconditions": {}, "confidence": 0.9,
    }))  # fmt: skip
    done = run_cli("plan", str(file), env=_env(isolated))
    assert (done.returncode, "unknown_agent" in done.stdout) == (1, True)
    register(own_ledger, "ghost")
    file.write_text(json.dumps({
        "agent_id": "ghost", "idempotency_key": "x", "resource": {"system": "crm", "type": "contact", "id": "1"},
        "action_type": "contact.archive.delete", "parameters": {}, "preconditions": {}, "confidence": 0.9,
    }))  # fmt: skip
    done = run_cli("plan", str(file), env=_env(isolated))
    assert (done.returncode, "unknown_action_type" in done.stdout) == (1, True), done.stdout
    file.write_text(json.dumps({"agent_id": "ghost"}))
    done = run_cli("plan", str(file), env=_env(isolated))
    assert done.returncode == 2
    assert "idempotency_key" in done.stderr


def test_policy_input_and_replay_show_the_recorded_input_and_what_a_candidate_would_flip(
    isolated: Settings, own_ledger: Ledger, tmp_path: Path
) -> None:
    """Replay against a candidate demanding 0.9 confidence flips every 0.8-confidence allow to require_approval."""
    register(own_ledger, "bot")
    _decide(isolated, own_ledger, 5)
    same = run_cli("policy", "replay", "--bundle", str(POLICIES), env=_env(isolated))
    assert same.returncode == 0, same.stderr
    assert json.loads(same.stdout.splitlines()[-1])["flipped"] == 0
    candidate = Path(shutil.copytree(POLICIES, tmp_path / "candidate"))
    data = candidate / "agentledger" / "config" / "data.json"
    data.write_text(data.read_text().replace('"min_confidence": 0.7', '"min_confidence": 0.9'))
    done = run_cli("policy", "replay", "--bundle", str(candidate), env=_env(isolated))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["decisions"] == 5
    assert summary["transitions"] == {
        "allow -> require_approval": 4
    }  # the first was a first contact
    assert "low_confidence" in done.stdout
    action = next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("│ "))
    shown = run_cli("policy", "input", action, env=_env(isolated))
    assert shown.returncode == 0, shown.stderr
    recorded = json.loads(shown.stdout)
    assert recorded["input"]["proposal"]["confidence"] == 0.8
