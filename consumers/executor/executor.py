"""Apply authorized actions to their external system, exactly once per idempotency key.

For one action: read the resource's version, record ``ExecutionStarted`` (which takes
the resource lease and checks that the approvals still bind to that version), call the
connector with the action id as idempotency key and the expected version, and record
``MutationApplied`` or ``MutationFailed``. If the process dies after the call and
before the record, :meth:`Executor.redrive` calls again with the same key and version:
the system returns its stored result instead of applying the change twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from opentelemetry.trace import SpanKind

from domain.action import Action
from domain.action_state import Status
from domain.context import CommandContext
from domain.errors import (
    AgentSuspended,
    EmergencyStop,
    InvalidTransition,
    LeaseHeld,
    NotAuthorized,
    StaleApproval,
    StalePrecondition,
)
from domain.holds import Hold
from domain.values import MONEY_PLACES, ResourceRef
from infra.connectors.base import (
    Applied,
    Connector,
    ConnectorUnavailable,
    Mutation,
    MutationRefused,
    Operation,
    VersionConflict,
)
from infra.ledger.commands import Commands
from infra.ledger.execution_index import ExecutionRow
from infra.ledger.ledger import Ledger
from infra.telemetry.log_context import about_action
from infra.telemetry.metrics import CONNECTOR_ERRORS, CONNECTOR_SECONDS
from infra.telemetry.tracing import tracer

log = logging.getLogger("agentledger.executor")
RACE_RETRIES = 5


class Outcome(StrEnum):
    """How one pass over an action ended."""

    APPLIED = "applied"
    FAILED = "failed"
    RETRY_SCHEDULED = "retry_scheduled"
    REVIEW_REQUESTED = "review_requested"
    SKIPPED = "skipped"
    """Nothing to do: not authorized (any more), or already executed."""
    BUSY = "busy"
    """Another action holds the resource's lease: try again later."""
    HELD = "held"
    """The agent is suspended or the emergency stop holds: it starts once that lifts."""


@dataclass(frozen=True)
class ExecutorConfig:
    """Who the executor is and how it retries."""

    name: str
    max_attempts: int = 5
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0


OPERATIONS = {"create": Operation.UPSERT, "update": Operation.UPSERT, "delete": Operation.DELETE}
"""The effects a connector carries out, as the catalog names them (nothing is read from names)."""


class UndeclaredEffect(Exception):
    """The action has no effect the executor can carry out (none declared, or another kind)."""


def mutation_of(action: Action) -> Mutation:
    """The change the action's declared effect makes: delete, or set its parameters as fields."""
    operation = OPERATIONS.get(action.effect or "")
    if operation is None:
        declared = "no effect" if action.effect is None else f"the effect {action.effect!r}"
        raise UndeclaredEffect(
            f"{action.action_type} was decided with {declared} in the action catalog; the"
            f" executor carries out only {', '.join(OPERATIONS)}"
        )
    fields = {} if operation is Operation.DELETE else dict(action.parameters)
    return Mutation(action.resource, operation, fields)


def reported_cost(applied: Applied, action_id: UUID) -> Decimal | None:
    """The cost the connector reported, if it is one the budget can count (finite, >= 0).

    Anything else is logged and the estimate is spent instead: a connector's bad figure
    must neither stop the record of what it applied nor lower what the agent spent.
    """
    cost = applied.cost
    if cost is None:
        return None
    if cost.is_finite() and 0 <= cost <= MAX_COST:
        return cost.quantize(MONEY_PLACES, rounding=ROUND_CEILING)  # 4 places, never less
    log.error("the connector reported a cost of %s for %s: ignored, the estimate is spent",
              cost, action_id)  # fmt: skip
    return None


MAX_COST = Decimal(99999999999999)
"""The largest cost a record holds (14 integer digits): beyond, a connector's figure is wrong."""


class Executor:
    """Drives authorized actions through their connector."""

    def __init__(  # noqa: PLR0913  # everything it needs is injected
        self,
        ledger: Ledger,
        connector_for: Callable[[str], Connector],
        clock: Callable[[], datetime],
        context: Callable[[datetime], CommandContext],
        *,
        config: ExecutorConfig,
        failpoint: Callable[[str], None] = lambda _: None,
    ) -> None:
        """Execute on ``ledger`` through the connector ``connector_for(system)`` returns."""
        self._ledger = ledger
        self._connector_for = connector_for
        self.clock = clock
        self._context = context
        self.config = config
        self._failpoint = failpoint

    @property
    def ledger(self) -> Ledger:
        """The ledger it executes on."""
        return self._ledger

    def execute(self, action_id: UUID) -> Outcome:
        """Start (or retry) an authorized action and apply it.

        Raises :class:`ConnectorUnavailable` when the resource cannot even be read: the
        caller retries later, nothing was recorded.
        """
        with about_action(action_id):
            return self._execute(action_id)

    def _execute(self, action_id: UUID) -> Outcome:
        action = self.load(action_id)
        if action is None or action.status not in {Status.AUTHORIZED, Status.RETRY_PENDING}:
            return Outcome.SKIPPED
        if self._held(action_id):
            return Outcome.HELD
        connector = self._connector_for(action.resource.system)
        started = self._start(action_id, connector, action.resource)
        if isinstance(started, Outcome):
            return started
        return self._call(started, connector, started.expected_version)

    def _start(  # one outcome per reason it does not start
        self, action_id: UUID, connector: Connector, resource: ResourceRef
    ) -> Action | Outcome:
        """Record ExecutionStarted at the resource's current version, or why it did not start."""
        snapshot = connector.current(resource)
        version = snapshot.version
        actual = snapshot.fields if version is not None else None
        try:
            return self._write(
                action_id,
                lambda tx: tx.start_execution(
                    action_id, executor=self.config.name, resource_version=version, actual=actual
                ),
            )
        except StalePrecondition as exc:
            detail = str(exc)
            log.info("not executing %s: %s", action_id, detail)
            self._write(
                action_id, lambda tx: _abandon(tx, action_id, self.config.name, version, detail)
            )
            return Outcome.FAILED
        except StaleApproval as exc:
            log.info("approvals of %s are stale (%s): review requested", action_id, exc)
            self._write(
                action_id, lambda tx: tx.request_review(action_id, resource_version=version)
            )
            return Outcome.REVIEW_REQUESTED
        except (AgentSuspended, EmergencyStop):  # pulled since _held looked: record it now
            return Outcome.HELD if self._held(action_id) else Outcome.BUSY
        except (NotAuthorized, InvalidTransition) as exc:
            log.info("not executing %s: %s", action_id, exc)
            return Outcome.SKIPPED
        except LeaseHeld as exc:
            log.info("not executing %s yet: %s", action_id, exc)
            return Outcome.BUSY

    def _held(self, action_id: UUID) -> bool:
        """Whether a kill switch or the emergency stop keeps the action from starting now.

        The first time, the hold is recorded on the action (ExecutionDeferred), which puts it
        among the executions waiting for a hold to lift.
        """
        found: list[Hold] = []

        def look(tx: Commands) -> None:
            found.clear()  # a try refused as a conflict holds nothing: only the last one counts
            action = tx.action(action_id)
            if action.status not in {Status.AUTHORIZED, Status.RETRY_PENDING}:
                return  # revoked meanwhile: nothing to hold, _start skips it
            hold = tx.hold_for(action.agent_id)
            if hold is not None:
                found.append(hold)
                if tx.hold(action_id, hold):
                    log.warning("%s not started: %s", action_id, hold.detail)

        self._write(action_id, look)
        return bool(found)

    def redrive(self, row: ExecutionRow) -> Outcome:
        """Finish an execution left in flight (a crash): call again with the same key."""
        with about_action(row.action_id):
            return self._redrive(row)

    def _redrive(self, row: ExecutionRow) -> Outcome:
        action = self.load(row.action_id)
        if action is None or action.status is not Status.EXECUTING:
            return Outcome.SKIPPED
        log.info(
            "re-driving %s (attempt %d, key %s)", row.action_id, row.attempt, row.idempotency_key
        )
        connector = self._connector_for(action.resource.system)
        return self._call(action, connector, row.expected_version)

    def _call(self, action: Action, connector: Connector, expected: str | None) -> Outcome:
        aid, key = action.id, str(action.id)
        try:
            mutation = mutation_of(action)
        except UndeclaredEffect as exc:
            return self._failed(action, str(exc), retryable=False)
        system = action.resource.system
        try:
            with (
                CONNECTOR_SECONDS.labels(system).time(),
                tracer.start_as_current_span(
                    f"connector {system} {mutation.operation}", kind=SpanKind.CLIENT,
                    attributes={"agentledger.system": system},
                ),
            ):  # fmt: skip
                applied = connector.apply(mutation, key, expected)
        except ConnectorUnavailable as exc:
            CONNECTOR_ERRORS.labels(system, "unavailable").inc()
            return self._failed(action, f"unavailable: {exc}", retryable=True)
        except (VersionConflict, MutationRefused) as exc:
            kind = "version_conflict" if isinstance(exc, VersionConflict) else "refused"
            CONNECTOR_ERRORS.labels(system, kind).inc()
            return self._failed(action, f"{type(exc).__name__}: {exc}", retryable=False)
        self._failpoint("executor.after_apply")
        cost = reported_cost(applied, aid)
        self._write(
            aid,
            lambda tx: tx.applied(
                aid, external_version=applied.external_version, fields=applied.fields, cost=cost
            ),
        )
        log.info(
            "%s applied to %s (version %s)", aid, action.resource.key, applied.external_version
        )
        return Outcome.APPLIED

    def _failed(self, action: Action, error: str, *, retryable: bool) -> Outcome:
        aid = action.id
        retryable = retryable and action.attempt < self.config.max_attempts
        retry_at = None
        if retryable:
            delay = min(
                self.config.backoff_s * 2 ** (action.attempt - 1), self.config.backoff_max_s
            )
            retry_at = self.clock() + timedelta(seconds=delay)
        self._write(
            aid, lambda tx: tx.failed(aid, error=error, retryable=retryable, retry_at=retry_at)
        )
        log.warning("%s failed (attempt %d, %s): %s", aid, action.attempt,
                    "retry scheduled" if retryable else "final", error)  # fmt: skip
        return Outcome.RETRY_SCHEDULED if retryable else Outcome.FAILED

    def load(self, action_id: UUID) -> Action | None:
        """The action as the ledger holds it, or ``None``."""
        try:
            found: object = self._ledger.repository.get(action_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Action) else None

    def _write(self, action_id: UUID, command: Callable[[Commands], None]) -> Action:
        for _ in range(RACE_RETRIES):
            try:
                with self._ledger.batch(self._context(self.clock())) as tx:
                    command(tx)
                    return tx.action(action_id)
            except IntegrityError:
                log.info("action %s changed concurrently; trying again", action_id)
        raise RuntimeError(f"action {action_id} kept changing; gave up after {RACE_RETRIES}")


def _abandon(
    tx: Commands, action_id: UUID, executor: str, version: str | None, detail: str
) -> None:
    """Invariant 6 just before calling out: the preconditions no longer hold.

    Recorded as an execution that failed before any call (final, nothing was sent), so
    the lease is released and the reason — the field-level difference — is on record.
    """
    tx.start_execution(action_id, executor=executor, resource_version=version, actual=None)
    tx.failed(action_id, error=detail, retryable=False, retry_at=None)
