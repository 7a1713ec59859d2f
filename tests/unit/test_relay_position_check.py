"""A relay position is followed only where the relay's own records end on the topics."""

from __future__ import annotations

import pytest

from consumers.relay.position import Position
from consumers.relay.position_check import PositionRefused, check_position
from infra.chain_tails import Tail

pytestmark = pytest.mark.unit

A, B = "p.actions.v1:0", "p.actions.v1:1"
TAILS = {A: Tail(7, "hash-a", 40), B: Tail(9, "hash-b", 12)}


def _nothing_between(_after: int, _upto: int) -> list[int]:
    return []


def test_a_genuine_position_and_a_fresh_deployment_pass() -> None:
    """Chain heads equal to the tails, no chained notification after the last: followed."""
    check_position(Position(9, {A: "hash-a", B: "hash-b"}), TAILS, _nothing_between)
    check_position(Position(12, {A: "hash-a", B: "hash-b"}), TAILS, _nothing_between)
    check_position(Position(), {}, _nothing_between)


@pytest.mark.parametrize(
    ("position", "between", "names"),
    [
        (Position(30, {A: "hash-a", B: "hash-b"}), [10, 11, 25], "notification(s) 10, 11, 25"),
        (Position(9, {A: "forged", B: "hash-b"}), [], f"chain head for {A}"),
        (Position(9, {A: "hash-a"}), [], f"{B} holds relayed records"),
        (Position(9, {A: "hash-a", B: "hash-b", "p.agents.v1:0": "x"}), [], "no relayed record"),
        (Position(8, {A: "hash-a", B: "hash-b"}), [], "relay events twice"),
        (Position(0, {}), [], f"{A} holds relayed records"),
    ],
    ids=["skips-events", "wrong-head", "missing-head", "extra-head", "behind", "reset"],
)  # fmt: skip
def test_a_position_the_topics_contradict_is_refused_naming_why(
    position: Position, between: list[int], names: str
) -> None:
    """Ahead past unrelayed events, a chain head not on the topic, behind them: refused."""
    with pytest.raises(PositionRefused, match="refusing the relay's committed position") as refused:
        check_position(position, TAILS, lambda _after, _upto: between)
    assert names in str(refused.value)
