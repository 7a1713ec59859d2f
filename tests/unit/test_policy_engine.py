"""Bundles on disk (digest, version, errors), the engine's contract, and the policy input."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from domain.agent import Agent
from domain.context import CommandContext
from infra.policy.bundle import BundleError, load_bundle
from infra.policy.engine import PolicyEngine, PolicyError
from infra.policy.inputs import History, HistoryEntry, PolicyInput, build_input
from tests.decider_helpers import proposal

POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.fixture
def bundle_copy(tmp_path: Path) -> Path:
    """A copy of the default bundle to change."""
    return Path(shutil.copytree(POLICIES, tmp_path / "bundle"))


def test_the_digest_depends_on_every_bundle_file_and_nothing_else(bundle_copy: Path) -> None:
    """Same files, same digest; one changed byte in data or a README-only change tell apart."""
    original = load_bundle(POLICIES)
    assert load_bundle(bundle_copy).digest == original.digest
    (bundle_copy / "README.md").write_text("not part of the bundle")
    assert load_bundle(bundle_copy).digest == original.digest
    data = bundle_copy / "agentledger" / "config" / "data.json"
    data.write_text(data.read_text().replace('"min_confidence": 0.7', '"min_confidence": 0.8'))
    assert load_bundle(bundle_copy).digest != original.digest


def test_the_version_is_the_manifest_revision_or_unversioned(bundle_copy: Path) -> None:
    """``.manifest`` revision names the version; without a manifest it says so."""
    assert load_bundle(bundle_copy).version == "2026.11.1"
    (bundle_copy / ".manifest").unlink()
    assert load_bundle(bundle_copy).version == "unversioned"


def test_a_missing_or_broken_bundle_is_a_clear_error(bundle_copy: Path, tmp_path: Path) -> None:
    """No directory, no module, bad JSON, bad Rego: each names the problem and the file."""
    with pytest.raises(BundleError, match="is not a directory"):
        load_bundle(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match=r"has no \.rego module"):
        load_bundle(tmp_path / "empty")
    data = bundle_copy / "agentledger" / "config" / "data.json"
    data.write_text("{ not json")
    with pytest.raises(BundleError, match=r"agentledger/config/data.json is not valid JSON"):
        load_bundle(bundle_copy)
    shutil.copy(POLICIES / "agentledger" / "config" / "data.json", data)
    (bundle_copy / "agentledger" / "broken.rego").write_text("package agentledger.broken\n\nx := {")
    with pytest.raises(BundleError, match="does not compile"):
        PolicyEngine(load_bundle(bundle_copy))


def test_a_bundle_whose_result_is_not_a_decision_is_refused_at_evaluation(tmp_path: Path) -> None:
    """A result without an outcome raises PolicyError instead of deciding anything."""
    root = tmp_path / "odd"
    (root / "agentledger").mkdir(parents=True)
    (root / "agentledger" / "decision.rego").write_text(
        textwrap.dedent("""\
            package agentledger.decision

            result := {"verdict": "fine"}
        """)
    )
    with pytest.raises(PolicyError, match="malformed"):
        PolicyEngine(load_bundle(root)).evaluate({})


def _agent() -> Agent:
    ctx = CommandContext(
        now=datetime(2026, 11, 21, tzinfo=UTC),
        new_id=lambda: UUID(int=1),
        correlation_id=UUID(int=2),
    )
    return Agent.register(
        ctx, agent_id="bot", name="Bot", owner="alice", scopes=["*"], budget_limit=Decimal("100.50")
    )


def test_the_same_facts_always_give_the_same_input_text_and_digest() -> None:
    """Building twice gives identical canonical text; the recorded text re-evaluates as is."""
    now = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    made = [
        build_input(action_id=UUID(int=9), proposal=proposal("bot", "k", parameters={"amount": Decimal("12.50")}),
                    agent=_agent(), history=History(), now=now)
        for _ in range(2)
    ]  # fmt: skip
    assert made[0].text == made[1].text
    assert made[0].digest == made[1].digest == PolicyInput.from_text(made[0].text).digest
    document = made[0].document
    assert document["proposal"]["parameters"]["amount"] == 12.5
    assert document["agent"]["budget"] == {
        "reserved": 0, "available": 100.5,
        "periods": {
            "day": {"window": "2026-11-21", "limit": 100.5, "settled": 0, "reserved": 0,
                    "available": 100.5},
            "month": {"window": "2026-11", "limit": None, "settled": 0, "reserved": 0,
                      "available": None},
        },
    }  # fmt: skip
    assert document["now_ms"] == int(now.timestamp() * 1000)
    assert document["resource"] == {"state": "unknown"}


def test_history_in_the_input_is_newest_first_and_capped() -> None:
    """The input carries at most ``history_limit`` entries per agent, newest first."""
    history = History()
    for at in range(10):
        history.add(
            HistoryEntry(
                at_ms=at,
                agent_id="bot",
                resource_key="crm/contact/42",
                action_type="t",
                outcome="allow",
            )
        )
    made = build_input(action_id=UUID(int=9), proposal=proposal("bot", "k"), agent=_agent(), history=history,
                       now=datetime(2026, 11, 21, tzinfo=UTC), history_limit=3)  # fmt: skip
    agent = made.document["history"]["agent"]
    assert [e["at_ms"] for e in agent["recent"]] == [9, 8, 7]
    assert (agent["last_minute"], agent["last_hour"]) == (10, 10)
    assert made.document["history"]["agent_touched_resource"] is True


MEMORY_PROBE = """
import resource, sys
import infra.policy
from pathlib import Path
from infra.policy.bundle import load_bundle
from infra.policy.engine import PolicyEngine
from tests.policy_cases import generated_inputs

engine = PolicyEngine(load_bundle(Path(sys.argv[1])))
inputs = generated_inputs(100)
for document in inputs:  # the decider's default input lists no recent entries
    document["history"]["agent"]["recent"] = document["history"]["resource"]["recent"] = []
def rss_kb():
    return int(open("/proc/self/statm").read().split()[1]) * 4
for i in range(10_000):
    engine.evaluate(inputs[i % 100])
before = rss_kb()
for i in range(100_000):
    engine.evaluate(inputs[i % 100])
print(before, rss_kb())
"""


def test_memory_stays_flat_over_100000_evaluations() -> None:
    """After warm-up, 100,000 evaluations grow resident memory by under 16 MiB (a 4 KB/query leak: 400 MB)."""
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(POLICIES)], cwd=repo, capture_output=True, text=True,
        timeout=600, check=True,
    )  # fmt: skip
    before, after = map(int, done.stdout.split())
    assert after - before < 16 * 1024, f"RSS grew from {before} KiB to {after} KiB"


def test_an_input_that_is_not_json_is_refused_before_evaluation() -> None:
    """A Decimal or any non-JSON value in the input raises PolicyError naming the type."""
    engine = PolicyEngine(load_bundle(POLICIES))
    with pytest.raises(PolicyError, match="cannot pass a Decimal"):
        engine.evaluate({"proposal": {"estimated_cost": Decimal("1.5")}})
