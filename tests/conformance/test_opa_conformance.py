"""Our engine (regopy) against real OPA, built from source: identical decisions."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentledger.settings import Settings
from infra.policy.bundle import load_bundle
from infra.policy.engine import PolicyEngine
from infra.policy.opa import ensure_opa, opa_evaluate_all
from tests.policy_cases import generated_inputs

POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.mark.conformance
def test_regopy_and_opa_decide_identically_on_generated_inputs(tmp_path: Path) -> None:
    """OPA built via the Go module proxy and our compiled bundle agree on 400 generated inputs, field for field."""
    opa = ensure_opa(Settings().cache_dir.resolve())
    inputs = generated_inputs(400)
    expected = opa_evaluate_all(opa, POLICIES, "data.agentledger.decision.result", inputs, tmp_path)
    engine = PolicyEngine(load_bundle(POLICIES))
    outcomes = set()
    for document, theirs in zip(inputs, expected, strict=True):
        ours = engine.query("agentledger/decision/result", document)
        assert ours == theirs, f"differs on {document}"
        outcomes.add(ours["outcome"])
    assert outcomes == {"allow", "deny", "require_approval"}


@pytest.mark.conformance
def test_drift_verdicts_match_opa(tmp_path: Path) -> None:
    """The drift rules (ignore, ownership, severity) evaluate the same in OPA and in our engine."""
    opa = ensure_opa(Settings().cache_dir.resolve())
    inputs = [
        {"class": cls, "resource": {"system": system, "type": kind, "id": "1", "key": f"{system}/{kind}/1"}, "field": field}
        for cls in ("out_of_band_change", "revoked_but_applied", "unheard_of")
        for system, kind in (("crm", "contact"), ("billing", "invoice"), ("x", "y"))
        for field in ("email", "updated_at", "last_seen_at", "amount")
    ]  # fmt: skip
    expected = opa_evaluate_all(opa, POLICIES, "data.agentledger.drift.verdict", inputs, tmp_path)
    engine = PolicyEngine(load_bundle(POLICIES))
    ours = [engine.query("agentledger/drift/verdict", document) for document in inputs]
    assert ours == expected
    assert {v["ignored"] for v in ours} == {True, False}
