"""Helpers for approval and execution tests: decided actions, an executor, approvers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from agentledger.approvals import ApprovalDesk, Approver
from agentledger.bootstrap import context_at, system_context
from consumers.executor.executor import Executor, ExecutorConfig
from domain.events.decisions import DecisionOutcome, Obligations
from domain.values import ResourceRef
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger
from tests.decider_helpers import proposal, register

ALICE = Approver("alice", ["security", "reviewer"])
BOB = Approver("bob", ["security"])
CAROL = Approver("carol", ["finance"])
OPAL = Approver("opal", ["operator"])
TOKENS = {"tok-alice": ALICE, "tok-bob": BOB, "tok-carol": CAROL, "tok-opal": OPAL}


class Clock:
    """A clock tests move by hand (starts at the wall clock)."""

    def __init__(self) -> None:
        """Now."""
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        """The current reading."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move forward."""
        self.now += timedelta(seconds=seconds)


def decide(  # noqa: PLR0913  # a decided action states everything about it
    the_ledger: Ledger,
    agent: str,
    resource: str,
    *,
    parameters: dict[str, object] | None = None,
    outcome: DecisionOutcome = DecisionOutcome.REQUIRE_APPROVAL,
    approvals: int = 1,
    roles: list[str] | None = None,
    ttl: int = 600,
    action_type: str = "contact.update",
    at: datetime | None = None,
    effect: str = "update",
) -> UUID:
    """Propose and decide an action directly on the ledger (no Kafka); its id.

    ``effect`` is what the action catalog would have declared (the executor does only that).
    """
    ref = ResourceRef.parse(resource)
    params = parameters if parameters is not None else {"tier": "gold"}
    fields: dict[str, Any] = {"resource": ref, "parameters": params, "action_type": action_type}
    ob = Obligations(
        approvals_required=approvals if outcome is DecisionOutcome.REQUIRE_APPROVAL else 0,
        approver_roles=roles or [], approval_ttl_seconds=ttl, extra={},
    )  # fmt: skip
    ctx = context_at(at) if at is not None else system_context()
    with the_ledger.batch(ctx) as tx:
        aid, _ = tx.propose(proposal(agent, uuid.uuid4().hex, **fields))
        tx.decide(aid, outcome=outcome, reasons=[], obligations=ob, bundle_digest="b" * 64,
                  bundle_version="test", input_digest="i" * 64, effect=effect)  # fmt: skip
    return aid


def agent(the_ledger: Ledger) -> str:
    """A freshly registered agent (owner ``owner-of-<id>``)."""
    agent_id = f"agent-{uuid.uuid4().hex[:8]}"
    register(the_ledger, agent_id, budget=10**6)
    return agent_id


def desk(the_ledger: Ledger, systems: Connectors) -> ApprovalDesk:
    """An approval desk with ALICE, BOB and CAROL, versions read from ``systems``."""
    return ApprovalDesk(
        the_ledger, TOKENS, lambda ref: systems.for_resource(ref).current(ref).version,
        system_context,
    )  # fmt: skip


def executor(the_ledger: Ledger, systems: Connectors, clock: Clock | None = None) -> Executor:
    """An executor on ``the_ledger`` (quick retries)."""
    return Executor(
        the_ledger, systems.__getitem__, clock or (lambda: datetime.now(UTC)), context_at,
        config=ExecutorConfig(name="test-executor", max_attempts=3, backoff_s=0.1),
    )  # fmt: skip


def resource(system: str, kind: str) -> str:
    """A resource key no other test uses."""
    return f"{system}/{kind}/{uuid.uuid4().hex[:12]}"


def event_names(the_ledger: Ledger, aid: UUID) -> list[str]:
    """The record types of an aggregate's events, oldest first."""
    return [type(getattr(event, "record", event)).__name__ for event in the_ledger.events.get(aid)]
