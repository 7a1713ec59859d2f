"""The state machine is not vacuous: with a guard removed, it finds the broken invariant."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, Phase, settings

from domain.action import Action
from domain.agent import Agent
from domain.lease import ResourceLease
from tests.unit.test_invariants_machine import LedgerMachine

pytestmark = pytest.mark.unit


class NoShrink(LedgerMachine.TestCase):  # type: ignore[valid-type,misc]  # hypothesis builds it
    """The same machine, stopping at the first failure (no shrinking: we only need one)."""

    __test__ = False  # a helper, run by the test below, not a test of its own

    settings = settings(
        max_examples=400, stateful_step_count=50, deadline=None, phases=(Phase.generate,),
        suppress_health_check=[HealthCheck.too_slow], database=None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("cls", "guard", "broken"),
    [
        (Action, "check_may_execute", "started while"),
        (ResourceLease, "check_free", "two executions on one resource"),
        (Agent, "check_budget", "reservations exceed budget"),
    ],
)
def test_removing_a_guard_is_caught(
    monkeypatch: pytest.MonkeyPatch, cls: type, guard: str, broken: str
) -> None:
    """Disabling invariant 2's, 5's or 7's guard makes the machine report that very invariant."""
    disabled: Callable[..., None] = lambda *_args: None  # noqa: E731
    monkeypatch.setattr(cls, guard, disabled)
    with pytest.raises(AssertionError, match=broken):
        NoShrink().runTest()
