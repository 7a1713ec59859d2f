"""The action catalog: declared types only, typed parameters, money as decimals, effects executed."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.executor.executor import UndeclaredEffect, mutation_of
from domain.agent import Agent
from domain.context import CommandContext
from domain.events.decisions import DecisionOutcome
from infra.connectors.base import Operation
from infra.policy.bundle import BundleError, load_bundle
from infra.policy.catalog import ActionCatalog, money_amounts, parameter_problems
from infra.policy.engine import PolicyEngine
from infra.policy.inputs import History, build_input
from tests.decider_helpers import proposal
from tests.domain_helpers import Clock, decided

POLICIES = Path(__file__).resolve().parents[2] / "policies"
ENGINE = PolicyEngine(load_bundle(POLICIES))
CATALOG = ENGINE.catalog
UPDATE = {"effect": "update", "reversible": False, "risk": "low"}


def test_the_default_catalog_declares_the_crm_and_billing_action_types() -> None:
    """Contacts and invoices, with effect, risk and undo; nothing is read from a name."""
    update = CATALOG.spec("crm", "contact", "contact.update")
    assert update is not None
    assert (update.effect, update.risk, update.compensation) == (
        "update", "low", "contact.update.compensate",
    )  # fmt: skip
    delete = CATALOG.spec("crm", "contact", "contact.delete")
    assert delete is not None
    assert (delete.effect, delete.reversible, delete.risk) == ("delete", False, "high")
    assert CATALOG.spec("billing", "invoice", "invoice.update") is not None


@pytest.mark.parametrize(
    ("system", "kind", "action_type"),
    [
        ("crm", "contact", "contact.archive.delete"),
        ("crm", "contact", "database.drop"),
        ("billing", "invoice", "contact.update"),
        ("tickets", "ticket", "ticket.close"),
    ],
)
def test_a_type_outside_the_catalog_has_no_declaration(
    system: str, kind: str, action_type: str
) -> None:
    """The decider rejects these as unknown_action_type (a name ending in .delete included)."""
    assert CATALOG.spec(system, kind, action_type) is None


def test_parameters_that_break_their_declared_types_are_named() -> None:
    """Each problem names its field: a wrong type, a negative amount, an undeclared name."""
    spec = CATALOG.spec("crm", "contact", "email.send")
    assert spec is not None
    assert parameter_problems(spec, {"subject": 5, "cc": "x"}) == [
        "subject: 5 is not a string",
        "cc: not a parameter of this action type",
    ]
    assert parameter_problems(spec, {}) == ["subject: required"]
    invoice = CATALOG.spec("billing", "invoice", "invoice.update")
    assert invoice is not None
    assert parameter_problems(invoice, {"amount": "25000.00", "extra": 1}) == []
    for bad in ("-1", -1, "1e999999", "NaN", True, "12,50"):
        assert parameter_problems(invoice, {"amount": bad})[0].startswith("amount: "), bad


@pytest.mark.parametrize(
    ("declared", "problem"),
    [
        ({"x.a": {**UPDATE, "reversible": True}}, "a reversible action names its compensation"),
        ({"x.a": {**UPDATE, "reversible": True, "compensation": "x.b"}}, "must be x.a.compensate"),
        (
            {"x.a": {**UPDATE, "reversible": True, "compensation": "x.a.compensate"}},
            "is not declared as undoing it",
        ),
        ({"x.a": {**UPDATE, "risk": "extreme"}}, "risk"),
        ({"x.a": {**UPDATE, "undoes": "nothing"}}, "it undoes nothing, which must be declared"),
        (
            {
                "x.a": {
                    **UPDATE,
                    "reversible": True,
                    "compensation": "x.a.compensate",
                    "parameters": {"amount": "money"},
                },
                "x.a.compensate": {**UPDATE, "undoes": "x.a", "parameters": {}},
            },
            "must take the same parameter types",
        ),
        ({"x.a": {**UPDATE, "required": ["ghost"]}}, "required parameters"),
        ({"x.a": {**UPDATE, "parameters": {"n": "decimal-ish"}}}, "parameters"),
    ],
)
def test_a_broken_catalog_is_refused_with_the_action_named(
    declared: dict[str, Any], problem: str
) -> None:
    """A bundle whose catalog does not hold together never decides anything."""
    with pytest.raises(BundleError, match=problem):
        ActionCatalog({"resources": {"x/y": declared}})


def _agent() -> Agent:
    ctx = CommandContext(now=datetime(2026, 11, 21, tzinfo=UTC), new_id=lambda: UUID(int=1),
                         correlation_id=UUID(int=2))  # fmt: skip
    return Agent.register(
        ctx, agent_id="bot", name="Bot", owner="alice", scopes=["*"], budget_limit=Decimal(10**9)
    )


def _decision(amount: object) -> dict[str, Any]:
    spec = CATALOG.spec("billing", "invoice", "invoice.update")
    assert spec is not None
    made = build_input(
        action_id=UUID(int=9), agent=_agent(), history=History(),
        now=datetime(2026, 11, 21, tzinfo=UTC), action=spec,
        proposal=proposal("bot", "k", signed_by=None, parameters={"amount": amount},
                          resource={"system": "billing", "type": "invoice", "id": "7"}),
    )  # fmt: skip
    document = copy.deepcopy(made.document)
    document["history"]["agent_touched_resource"] = True
    return ENGINE.evaluate(document).model_dump()


@settings(max_examples=60, deadline=None)
@given(
    st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False, allow_infinity=False)
    | st.sampled_from([Decimal("999.99"), Decimal(1000), Decimal("1000.00"), Decimal("1000.01")])
)
def test_an_amount_as_a_number_or_a_decimal_string_gets_the_same_decision(amount: Decimal) -> None:
    """The string "25000.00" used to slip past the finance threshold that 25000 met."""
    as_string = _decision(f"{amount:.2f}")
    assert as_string == _decision(amount)
    above = amount > 1000  # the bundle's approval_amount_threshold
    assert ("amount_above_threshold" in str(as_string["reasons"])) is above


def test_the_executor_carries_out_the_declared_effect_and_refuses_any_other() -> None:
    """Delete deletes, update sets fields; an effect it cannot carry out, or none, is refused."""
    action = decided(Clock(), DecisionOutcome.ALLOW)
    action.effect = "delete"
    assert mutation_of(action).operation is Operation.DELETE
    action.effect = "update"
    mutation = mutation_of(action)
    assert (mutation.operation, mutation.fields) == (Operation.UPSERT, action.parameters)
    for effect in ("send", None):
        action.effect = effect
        with pytest.raises(UndeclaredEffect, match="carries out only create, update, delete"):
            mutation_of(action)


def test_an_agent_cannot_propose_a_compensation_type_itself() -> None:
    """It would skip the money and irreversibility rules; only the system proposes undos.

    Under the key the system reserves, the catalog lets it through: the ledger then
    checks it is exactly the compensation it recorded.
    """
    undo = {"amount": "25000.00"}
    mine = proposal("bot", "mine", signed_by=None, action_type="invoice.update.compensate",
                    parameters=undo, resource={"system": "billing", "type": "invoice", "id": "7"})  # fmt: skip
    refused = CATALOG.refusal(mine)
    assert refused is not None
    assert refused[0] == "reserved_action_type"
    system = mine.model_copy(update={"idempotency_key": f"compensates:{UUID(int=3)}"})
    assert CATALOG.refusal(system) is None
    spec = CATALOG.spec("billing", "invoice", "invoice.update.compensate")
    assert spec is not None
    assert money_amounts(spec, undo) == {"amount": 25000}


def test_a_candidate_bundle_declares_the_action_anew_for_shadow_runs_and_replays() -> None:
    """A candidate that makes an update high risk asks for approval where the active allows.

    An input recorded before catalogs (no declaration) is declared anew, not flagged as
    high risk; a type the candidate does not declare answers as its rejection.
    """
    document = _input("contact.update", {"tier": "gold"}, ("crm", "contact"))
    data = copy.deepcopy(load_bundle(POLICIES).data["agentledger"]["catalog"])
    data["resources"]["crm/contact"]["contact.update"]["risk"] = "high"
    stricter = ActionCatalog(data)
    assert ENGINE.evaluate_declared(document).outcome == "allow"
    declared = stricter.declare(document)
    assert declared is not None
    assert ENGINE.evaluate(declared).outcome == "require_approval"
    old = {k: v for k, v in document.items() if k != "action"}
    assert ENGINE.evaluate_declared(old).outcome == "allow"
    unknown = _input("contact.archive.delete", {}, ("crm", "contact"))
    result = ENGINE.evaluate_declared(unknown)
    assert (result.outcome, result.reasons[0].code) == ("deny", "unknown_action_type")


def _input(action_type: str, parameters: dict[str, Any], where: tuple[str, str]) -> dict[str, Any]:
    made = build_input(
        action_id=UUID(int=9), agent=_agent(), history=History(),
        now=datetime(2026, 11, 21, tzinfo=UTC), action=CATALOG.spec(*where, "contact.update"),
        proposal=proposal("bot", "k", signed_by=None, action_type=action_type,
                          parameters=parameters,
                          resource={"system": where[0], "type": where[1], "id": "7"}),
    )  # fmt: skip
    document = copy.deepcopy(made.document)
    document["history"]["agent_touched_resource"] = True
    return document
