"""The intake limits a proposal keeps, whoever sent it, and how stored values are shown."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from agentledger.api.shown import SHOWN_DEPTH, shown
from domain.proposal_limits import MAX_DEPTH, proposal_problem, value_problem
from tests.domain_helpers import proposal


def nested(depth: int) -> dict[str, Any]:
    """An object ``depth`` containers deep, counting itself."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_a_well_formed_proposal_keeps_every_limit() -> None:
    """The helpers' ordinary proposal, with a cost of 0 and parameters at the depth limit."""
    assert proposal_problem(proposal(estimated_cost=0, parameters=nested(MAX_DEPTH))) is None


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"parameters": nested(MAX_DEPTH + 1)}, "parameters.a"),
        ({"preconditions": {"x": [nested(300)]}}, "preconditions.x"),
        ({"parameters": {"note": "a\x00b"}}, "parameters.note holds a NUL character at position 1"),
        ({"parameters": {"k\x00": 1}}, "parameters key holds a NUL"),
        ({"parameters": {"x": ["\ud800"]}}, "parameters.x.0 holds a lone surrogate"),
        ({"idempotency_key": "k\x00"}, "idempotency_key holds a NUL"),
        ({"rationale": "why\x00"}, "rationale holds a NUL character"),
        ({"plan_id": "\x00"}, "plan_id holds a NUL"),
        ({"estimated_cost": Decimal("-0.01")}, "estimated_cost must not be negative"),
    ],
)
def test_a_breach_is_named_with_its_field(changes: dict[str, Any], named: str) -> None:
    """Each limit refuses the proposal with a reason that names where it broke."""
    problem = proposal_problem(proposal(**changes))
    assert problem is not None
    assert named in problem


def test_no_nesting_exhausts_the_walk() -> None:
    """A value 100,000 containers deep is refused, not a RecursionError."""
    value: list[Any] = []
    for _ in range(100_000):
        value = [value]
    assert value_problem(value, "v") == f"v{'.0' * MAX_DEPTH} nests deeper than {MAX_DEPTH} levels"


def test_a_stored_value_deeper_than_any_serializer_is_shown_cut() -> None:
    """Parameters 300 deep (stored before the limits) render as JSON, cut with a marker."""
    text = json.dumps(shown({"p": nested(300), "amount": Decimal("1.50")}))
    assert text.count("{") == SHOWN_DEPTH
    assert "not shown" in text
    assert '"amount": "1.50"' in text
