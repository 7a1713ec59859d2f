"""One attempt at applying a batch inside a ledger transaction.

An attempt may run more than once (the ledger retries optimistic batches), so it starts
from a fresh copy of the history and collects its decisions anew each time.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from consumers.decider.authentication import Attester, AuthenticationFailure, authentication_problem
from consumers.decider.intake import Consumed, Intake, Malformed, Proposal, Undecodable
from consumers.decider.reserved_keys import reserved_key_problem
from domain.agent import Agent
from domain.context import CommandContext
from domain.errors import DomainError
from domain.events import ActionProposed
from domain.events.decisions import DecisionOutcome, Obligations
from domain.events.proposals import Reason
from domain.ids import action_id, agent_aggregate_id, rejection_id
from domain.preconditions import describe, differences
from infra.ledger.commands import Commands
from infra.policy.catalog import ActionSpec
from infra.policy.engine import PolicyEngine, PolicyError, PolicyResult
from infra.policy.inputs import History, HistoryEntry, PolicyInput, build_input
from infra.policy.records import DecisionRow
from infra.telemetry.tracing import annotate
from projections.actual import Actual

MESSAGE_LIMIT = 2000


class Poisoned(Exception):  # a signal to the decider, never escapes it
    """Proposal ``index`` cannot be decided; the batch reruns with it rejected for ``reason``."""

    def __init__(self, index: int, reason: Reason) -> None:
        """Which proposal, and why."""
        super().__init__(reason.message)
        self.index, self.reason = index, reason


@dataclass
class Tally:
    """What the records of a batch became."""

    decided: dict[DecisionOutcome, int] = field(default_factory=dict)
    rejected: int = 0
    rejections: dict[str, int] = field(default_factory=dict)
    """Rejections by reason code."""
    dead_letters: int = 0
    skipped: int = 0
    shadow_disagreements: int = 0


@dataclass
class Attempt:
    """The state of one run of a batch: the time, history so far, decisions so far."""

    tx: Commands
    now: datetime
    history: History
    engine: PolicyEngine
    shadow: PolicyEngine | None
    history_limit: int
    poisoned: dict[int, Reason]
    actual: Mapping[str, Actual] = field(default_factory=dict)
    """The observed state of the batch's resources (absent: not observed yet)."""
    attesters: Mapping[str, Attester] = field(default_factory=dict)
    """The services whose attestation vouches for a proposal, by key id."""
    seen: set[UUID] = field(default_factory=set)
    decided: list[tuple[DecisionRow, PolicyInput]] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)

    def apply(self, items: list[Intake]) -> None:
        """Decide or reject every item (dead letters were sent before)."""
        agents = {item.record.agent_id for item in items if isinstance(item, Proposal)}
        self.tx.uow.preload({agent_aggregate_id(agent) for agent in agents})
        for index, item in enumerate(items):
            if isinstance(item, Undecodable):
                continue
            if isinstance(item, Malformed):  # unauthenticated too: what it claims is prose only
                claims = {k: v for k, v in item.known.items() if k != "resource"}
                message = f"{item.reason} (it claims {claims})" if claims else item.reason
                reason = Reason(code="malformed", message=message[:MESSAGE_LIMIT])
                known = {k: v for k, v in item.known.items() if k == "resource"}
                self._reject(self.tx, item.consumed, reason, known)
            elif index in self.poisoned:
                self._reject_proposal(item, self.poisoned[index])
            else:
                self._decide(index, item)

    def _decide(self, index: int, item: Proposal) -> None:
        proposal = item.record
        aid = action_id(proposal.agent_id, proposal.idempotency_key)
        agent = self.tx.find_agent(proposal.agent_id)
        unauthenticated = authentication_problem(proposal, agent, self.attesters)
        if unauthenticated is not None:
            self._reject_unauthenticated(item, unauthenticated)
            return
        if agent is None:
            message = f"no agent {proposal.agent_id!r} is registered"
            self._reject_proposal(item, Reason(code="unknown_agent", message=message))
            return
        actual = self.actual.get(proposal.resource.key)
        checked = self._checked(proposal, agent, aid, actual)
        if not isinstance(checked, ActionSpec):
            self._reject_proposal(item, checked[0], existing=checked[1])
            return
        spec = checked
        self.seen.add(aid)
        policy_input = build_input(
            action_id=aid, proposal=proposal, agent=agent, history=self.history, now=self.now,
            history_limit=self.history_limit, resource=resource_document(actual), action=spec,
        )  # fmt: skip
        try:
            verdict = self.engine.evaluate(policy_input.document)
        except PolicyError as exc:
            raise Poisoned(index, _reason("policy_error", exc)) from exc
        tx = self.tx.using(_caused_by(self.tx.ctx, item))
        try:
            tx.propose(proposal)
            tx.decide(
                aid, outcome=verdict.outcome, reasons=verdict.reasons,
                obligations=obligations(verdict, proposal.estimated_cost),
                bundle_digest=self.engine.digest, bundle_version=self.engine.bundle.version,
                input_digest=policy_input.digest, effect=spec.effect,
                catalog_digest=self.engine.catalog.digest,
            )  # fmt: skip
        except DomainError as exc:
            raise Poisoned(index, _reason(_code(exc), exc)) from exc
        self._shadow(tx, aid, verdict, policy_input)
        self._count(aid, item, verdict, policy_input)

    def _checked(  # one answer per check, in the order they are made
        self, proposal: ActionProposed, agent: Agent, aid: UUID, actual: Actual | None
    ) -> tuple[Reason, UUID | None] | ActionSpec:
        """The catalog's declaration to decide with, or why the proposal is refused first.

        A refusal as a duplicate names the action it repeats.
        """
        system, kind = proposal.resource.system, proposal.action_type
        catalog = self.engine.catalog
        refused = catalog.refusal(proposal)
        spec = catalog.spec(system, proposal.resource.type, kind)
        if refused is not None or spec is None:
            code, message = refused or ("unknown_action_type", kind)
            return Reason(code=code, message=message[:MESSAGE_LIMIT]), None
        if not agent.may(system, kind):
            message = f"agent {agent.agent_id} has no scope for {kind} on {system}"
            return Reason(code="scope_missing", message=message), None
        reserved = reserved_key_problem(self.tx, proposal)
        if reserved is not None:
            return Reason(code="reserved_key", message=reserved), None
        if aid in self.seen or self.tx.exists(aid):
            message = f"idempotency key {proposal.idempotency_key!r} was already proposed"
            return Reason(code="duplicate", message=message), aid
        problem = self._budget_or_staleness(proposal, agent, actual)
        if problem is not None:
            return problem, None
        return spec

    def _budget_or_staleness(
        self, proposal: ActionProposed, agent: Agent, actual: Actual | None
    ) -> Reason | None:
        """Why the agent's budget or the resource's observed state refuses the proposal."""
        cost = proposal.estimated_cost or Decimal(0)
        excess = agent.budget.excess(cost, self.now)
        if excess is not None:
            message = f"agent {agent.agent_id} cannot spend {cost}: {excess}"
            return Reason(code="budget_exceeded", message=message[:MESSAGE_LIMIT])
        if actual is not None:
            diff = differences(proposal.preconditions, actual.fields)
            if diff and not self._view_behind(proposal.resource.key, actual):
                return Reason(code="stale_precondition", message=describe(diff)[:MESSAGE_LIMIT])
        return None

    def _view_behind(self, resource_key: str, actual: Actual) -> bool:
        """Whether we executed on the resource since its last observation.

        The observer follows our own writes with a lag: an agent that saw our last change
        is not stale because the view has not caught up. Such a proposal goes on, and the
        executor checks the preconditions against the live system before applying.
        """
        lease = self.tx.find_lease(resource_key)
        if lease is None:
            return False
        return lease.holder is not None or lease.modified_on >= actual.observed_at

    def _count(
        self, aid: UUID, item: Proposal, verdict: PolicyResult, policy_input: PolicyInput
    ) -> None:
        proposal = item.record
        row = DecisionRow(
            action_id=aid, agent_id=proposal.agent_id, resource_key=proposal.resource.key,
            action_type=proposal.action_type, outcome=verdict.outcome.value,
            reasons=[r.model_dump() for r in verdict.reasons], bundle_digest=self.engine.digest,
            bundle_version=self.engine.bundle.version, input_digest=policy_input.digest,
            decided_at=self.now,
        )  # fmt: skip
        self.decided.append((row, policy_input))
        self.history.add(HistoryEntry(
            at_ms=int(self.now.timestamp() * 1000), agent_id=row.agent_id,
            resource_key=row.resource_key, action_type=row.action_type, outcome=row.outcome,
        ))  # fmt: skip
        self.tally.decided[verdict.outcome] = self.tally.decided.get(verdict.outcome, 0) + 1
        annotate(aid, {"agentledger.outcome": verdict.outcome.value})

    def _shadow(
        self, tx: Commands, aid: UUID, verdict: PolicyResult, policy_input: PolicyInput
    ) -> None:
        if self.shadow is None:
            return
        try:
            candidate = self.shadow.evaluate_declared(policy_input.document)
        except PolicyError as exc:  # a broken candidate never affects the active decision
            candidate = PolicyResult.model_validate({
                "outcome": "deny", "reasons": [_reason("policy_error", exc).model_dump()],
                "obligations": {},
            })  # fmt: skip
        if candidate.outcome is verdict.outcome:
            return
        tx.shadow_differed(
            aid, active_outcome=verdict.outcome, active_bundle_digest=self.engine.digest,
            shadow_outcome=candidate.outcome, shadow_reasons=candidate.reasons,
            shadow_bundle_digest=self.shadow.digest,
            shadow_bundle_version=self.shadow.bundle.version, input_digest=policy_input.digest,
        )  # fmt: skip
        self.tally.shadow_disagreements += 1

    def _reject_proposal(
        self, item: Proposal, reason: Reason, existing: UUID | None = None
    ) -> None:
        proposal = item.record
        known = {
            "agent_id": proposal.agent_id, "idempotency_key": proposal.idempotency_key,
            "resource": proposal.resource,
            "action_id": action_id(proposal.agent_id, proposal.idempotency_key),
            "existing_action_id": existing,
        }  # fmt: skip
        self._reject(self.tx.using(_caused_by(self.tx.ctx, item)), item.consumed, reason, known)

    def _reject_unauthenticated(self, item: Proposal, found: AuthenticationFailure) -> None:
        """Recorded against the key: nothing of the agent it names is touched or answered.

        Unless the API vouched for the agent: then the rejection is the agent's own, and
        it is told (on its action's timeline) that its signature failed.
        """
        proposal = item.record
        reason = Reason(code="unauthenticated", message=found.message[:MESSAGE_LIMIT])
        known: dict[str, object] = {"resource": proposal.resource, "key_id": found.key_id}
        aid = action_id(proposal.agent_id, proposal.idempotency_key)
        if found.vouched and aid not in self.seen and not self.tx.exists(aid):  # not a replay
            known |= {
                "agent_id": proposal.agent_id, "idempotency_key": proposal.idempotency_key,
                "action_id": aid,
            }  # fmt: skip
        self._reject(self.tx.using(_caused_by(self.tx.ctx, item)), item.consumed, reason, known)

    def _reject(
        self, tx: Commands, consumed: Consumed, reason: Reason, known: dict[str, object]
    ) -> None:
        tx.reject_proposal(
            rejection_id(consumed.source), reason=reason, source=consumed.position, **known
        )
        self.tally.rejected += 1
        rejected = known.get("action_id")
        if isinstance(rejected, UUID):
            annotate(
                rejected, {"agentledger.outcome": "rejected", "agentledger.rejection": reason.code}
            )
        self.tally.rejections[reason.code] = self.tally.rejections.get(reason.code, 0) + 1


def resource_document(actual: Actual | None) -> dict[str, Any] | None:
    """The policy input's ``resource``: what was last observed (``None``: unknown)."""
    if actual is None:
        return None
    return {
        "state": "deleted" if actual.deleted else "observed",
        "version": actual.external_version,
        "observed_at_ms": int(actual.observed_at.timestamp() * 1000),
        "fields": actual.fields,
    }


def obligations(verdict: PolicyResult, cost: Decimal | None) -> Obligations:
    """The recorded obligations: the policy's, and the estimated cost reserved.

    Invariant 7 is the ledger's, not the policy's: every action that is not denied
    reserves its positive estimated cost, so concurrent decisions never overspend.
    """
    found = verdict.obligations
    reserve = verdict.outcome is not DecisionOutcome.DENY
    return Obligations(
        approvals_required=found.approvals_required, approver_roles=found.approver_roles,
        approval_ttl_seconds=found.approval_ttl_seconds,
        budget_reservation=cost if reserve and cost else None,
        extra=dict(found.model_extra or {}),
    )  # fmt: skip


def _caused_by(ctx: CommandContext, item: Proposal) -> CommandContext:
    metadata = item.record.metadata
    return dataclasses.replace(
        ctx, correlation_id=metadata.correlation_id, causation_id=metadata.event_id
    )


def _reason(code: str, error: Exception) -> Reason:
    return Reason(code=code, message=str(error)[:MESSAGE_LIMIT])


def _code(error: DomainError) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__).lower()
