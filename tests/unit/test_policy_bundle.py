"""The default Rego bundle: every governance rule, as input -> outcome, reasons, obligations."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from infra.policy.bundle import load_bundle
from infra.policy.engine import PolicyEngine, PolicyResult
from tests.policy_cases import NOW_MS, budget_document

POLICIES = Path(__file__).resolve().parents[2] / "policies"
ENGINE = PolicyEngine(load_bundle(POLICIES))


def base() -> dict[str, Any]:
    """An input every rule lets through: a familiar, scoped, funded, confident agent."""
    return {
        "now": "2026-11-18T10:13:20+00:00", "now_ms": NOW_MS,
        "proposal": {
            "action_id": "a", "agent_id": "bot", "idempotency_key": "k",
            "resource": {"system": "crm", "type": "contact", "id": "1", "key": "crm/contact/1"},
            "action_type": "contact.update", "parameters": {"tier": "gold"}, "preconditions": {},
            "confidence": 0.9, "estimated_cost": 10, "amounts": {},
        },
        "action": {"effect": "update", "risk": "low", "reversible": True, "undoes": None},
        "agent": {
            "id": "bot", "owner": "alice", "scopes": ["crm:*"], "suspended": False,
            "budget": budget_document(100),
        },
        "resource": {"state": "known", "version": "3", "fields": {}},
        "history": {
            "agent": {"last_minute": 0, "last_hour": 0, "recent": []},
            "resource": {"last_minute": 0, "last_hour": 0, "recent": []},
            "agent_touched_resource": True,
        },
    }  # fmt: skip


def decide(**changes: Any) -> PolicyResult:
    """The decision on ``base()`` with dotted-path ``changes`` (``agent__suspended=True``)."""
    document = copy.deepcopy(base())
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = document
        for part in parents:
            node = node[part]
        node[leaf] = value
    return ENGINE.evaluate(document)


def codes(result: PolicyResult) -> list[str]:
    """The reason codes, in order."""
    return [reason.code for reason in result.reasons]


def activity(last_minute: int, last_hour: int | None = None) -> dict[str, Any]:
    """Activity with ``last_minute`` decisions in the last minute (and as many in the hour)."""
    return {"last_minute": last_minute, "last_hour": last_hour or last_minute, "recent": []}


def test_a_familiar_scoped_confident_proposal_is_allowed_without_obligations() -> None:
    """Nothing fires: allow, no reasons, no approvals, and the estimated cost is reserved."""
    result = decide()
    assert result.outcome == "allow"
    assert codes(result) == []
    assert result.obligations.approvals_required == 0


def test_an_unknown_resource_state_is_noted_but_does_not_change_the_outcome() -> None:
    """Until projections exist the state is 'unknown': the decision says so and still allows."""
    result = decide(resource={"state": "unknown"})
    assert (result.outcome, codes(result)) == ("allow", ["resource_state_unknown"])


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"agent__suspended": True}, "agent_suspended"),
        ({"agent__scopes": ["billing:*"]}, "scope_missing"),
        (
            {"proposal__action_type": "database.drop", "agent__scopes": ["*"]},
            "action_type_forbidden",
        ),
        ({"history__agent": activity(120)}, "rate_limited_agent"),
        ({"history__resource": activity(10)}, "rate_limited_resource"),
    ],
)
def test_each_deny_rule_denies_with_its_reason_and_no_obligations(
    changes: dict[str, Any], code: str
) -> None:
    """Suspension, scope, forbidden type and both rate limits deny, naming the rule."""
    result = decide(**changes)
    assert result.outcome == "deny"
    assert code in codes(result)
    assert result.obligations.approvals_required == 0


@pytest.mark.parametrize(
    ("budget", "cost", "near"),
    [
        (budget_document(100), 89, False),
        (budget_document(100), 91, True),
        (budget_document(100, reserved=30, settled=55), 6, True),
        (budget_document(None, month=1000, settled=850), 60, True),
        (budget_document(None, month=1000, settled=850), 40, False),
        (budget_document(None), 10**6, False),
    ],
)
def test_a_cost_that_leaves_under_a_tenth_of_any_periods_limit_needs_finance_approval(
    budget: dict[str, Any],
    cost: int,
    near: bool,  # noqa: FBT001  # pytest passes cases positionally
) -> None:
    """Settled and reserved spend count; day and month alike; no limit, no rule."""
    result = decide(agent__budget=budget, proposal__estimated_cost=cost)
    assert ("budget_near_limit" in codes(result)) is near
    if near:
        assert result.outcome == "require_approval"
        assert "finance" in result.obligations.approver_roles


def test_rate_limits_count_only_the_last_minute_of_history() -> None:
    """500 decisions in the hour but 119 in the last minute do not rate-limit the agent."""
    assert decide(history__agent=activity(119, 500)).outcome == "allow"
    assert decide(history__resource=activity(9, 500)).outcome == "allow"


@pytest.mark.parametrize(
    ("changes", "code", "roles", "approvals", "ttl"),
    [
        (
            {"action__risk": "high", "action__reversible": False},
            "high_risk_action",
            ["owner", "security"],
            2,
            900,
        ),
        (
            {"action__reversible": False, "action__effect": "send"},
            "irreversible_action",
            ["owner", "security"],
            1,
            3600,
        ),
        (
            {"proposal__amounts": {"amount": 1000.01}},
            "amount_above_threshold",
            ["finance"],
            1,
            3600,
        ),
        ({"proposal__confidence": 0.69}, "low_confidence", ["reviewer"], 1, 3600),
        ({"history__agent_touched_resource": False}, "first_contact", ["reviewer"], 1, 3600),
    ],
)
def test_each_approval_rule_requires_approval_with_its_obligations(
    changes: dict[str, Any], code: str, roles: list[str], approvals: int, ttl: int
) -> None:
    """Declared high risk, declared irreversible, amounts, low confidence, first contact ask humans."""
    result = decide(**changes)
    assert result.outcome == "require_approval"
    assert code in codes(result)
    assert result.obligations.approver_roles == roles
    assert result.obligations.approvals_required == approvals
    assert result.obligations.approval_ttl_seconds == ttl


def test_a_deny_rule_wins_over_approval_rules_and_only_deny_reasons_are_given() -> None:
    """A suspended agent proposing a high-risk action is denied, not sent to approvers."""
    result = decide(agent__suspended=True, action__risk="high")
    assert (result.outcome, codes(result)) == ("deny", ["agent_suspended"])


def test_approval_obligations_combine_the_roles_of_every_rule_that_fired() -> None:
    """Amount and low confidence together need finance and reviewer roles, sorted, once each."""
    result = decide(proposal__amounts={"amount": 5000}, proposal__confidence=0.1)
    assert codes(result) == ["amount_above_threshold", "low_confidence"]
    assert result.obligations.approver_roles == ["finance", "reviewer"]


def test_amounts_compare_numerically_across_integers_and_floats() -> None:
    """51 against 1000.01, 12.25 against 2000: the larger decides (regopy's max() gets these wrong)."""
    assert "amount_above_threshold" in codes(
        decide(proposal__estimated_cost=51, proposal__amounts={"amount": 1000.01})
    )
    assert "amount_above_threshold" in codes(
        decide(
            proposal__estimated_cost=12.25,
            proposal__amounts={"amount": 2000},
            agent__budget=budget_document(9999),
        )
    )
    assert "amount_above_threshold" not in codes(
        decide(proposal__estimated_cost=12.25, proposal__amounts={"amount": 999.99})
    )


def test_rules_read_the_declared_effect_and_risk_never_the_name() -> None:
    """A harmless name declared high risk needs approval; a dangerous name declared low does not."""
    assert "high_risk_action" in codes(decide(action__risk="high"))
    assert codes(decide(proposal__action_type="contact.archive.delete")) == []


def test_a_compensation_needs_no_approval_for_being_irreversible() -> None:
    """It cannot be undone itself, but it restores what was there."""
    undo = {"effect": "update", "risk": "low", "reversible": False, "undoes": "contact.update"}
    assert decide(action=undo).outcome == "allow"


def test_an_input_without_the_catalogs_declaration_is_treated_as_high_risk() -> None:
    """Fail closed: the decider always gives it, but a policy run without it asks humans."""
    document = copy.deepcopy(base())
    del document["action"]
    result = ENGINE.evaluate(document)
    assert result.outcome == "require_approval"
    assert {"high_risk_action", "irreversible_action"} <= set(codes(result))


def test_drift_rules_ignore_listed_fields_and_grade_classes() -> None:
    """The bundle's drift verdicts: ignore rules with wildcards, ownership and per-class severity."""

    def verdict(cls: str, key: str, field: str) -> Any:
        system, kind, ident = key.split("/")
        resource = {"system": system, "type": kind, "id": ident, "key": key}
        return ENGINE.query(
            "agentledger/drift/verdict", {"class": cls, "resource": resource, "field": field}
        )

    assert verdict("out_of_band_change", "crm/contact/1", "updated_at")["ignored"] is True
    assert verdict("out_of_band_change", "crm/contact/1", "email") == {
        "ignored": False,
        "owned": True,
        "severity": "warning",
    }
    assert verdict("revoked_but_applied", "x/y/1", "email") == {
        "ignored": False,
        "owned": False,
        "severity": "critical",
    }
    assert verdict("something_new", "x/y/1", "f")["severity"] == "warning"


def test_a_compensation_is_in_scope_wherever_what_it_undoes_is() -> None:
    """An agent scoped to contact.update has its own revoked change undone, not denied."""
    undo = {"effect": "update", "risk": "low", "reversible": False, "undoes": "contact.update"}
    result = decide(
        agent__scopes=["crm:contact.update"],
        proposal__action_type="contact.update.compensate",
        action=undo,
    )
    assert result.outcome == "allow", codes(result)
