"""The approvals table changes only for actions that asked for approval."""

from __future__ import annotations

import pytest
from psycopg.sql import SQL, Composable

from domain.action import Action
from domain.events import Authorized, Revoked
from domain.events.decisions import DecisionOutcome
from domain.ids import action_id
from infra.ledger.approval_index import ApprovalIndex
from tests.domain_helpers import Clock, decided, obligations, proposal, records_of

pytestmark = pytest.mark.unit


class _Tables:
    """All ApprovalIndex asks its recorder for: table names."""

    def table(self, suffix: str) -> Composable:
        return SQL(suffix)


def _index() -> ApprovalIndex:
    return ApprovalIndex(_Tables())  # type: ignore[arg-type]  # only table() is used


def test_an_action_allowed_outright_has_no_approval_row_to_close() -> None:
    """Authorized, then Revoked, without a request before: no approvals statement at all."""
    clock = Clock()
    action = Action.propose(clock.ctx(), action_id("agent-1", "k1"), proposal())
    action.decide(
        clock.ctx(), outcome=DecisionOutcome.ALLOW, reasons=[], obligations=obligations(),
        bundle_digest="b" * 64, bundle_version="1", input_digest="i" * 64,
        resource_version=None, agent_active=True,
    )  # fmt: skip
    authorized = [r for r in records_of(action) if isinstance(r, Authorized)]
    action.revoke(clock.ctx(), by="alice", reason="changed my mind")
    (revoked,) = records_of(action)
    assert len(authorized) == 1
    assert _index().side_writes(action, authorized[0]) == []
    assert _index().side_writes(action, revoked) == []


def test_an_action_that_asked_for_approval_closes_its_row_when_revoked() -> None:
    """After ApprovalRequested, a Revoked sets the row's state to ``revoked``."""
    clock = Clock()
    action = decided(clock, DecisionOutcome.REQUIRE_APPROVAL)
    action.revoke(clock.ctx(), by="alice", reason="changed my mind")
    (revoked,) = records_of(action)
    assert isinstance(revoked, Revoked)
    (write,) = _index().side_writes(action, revoked)
    assert write.params == ("revoked", revoked.metadata.occurred_at, action.id)
