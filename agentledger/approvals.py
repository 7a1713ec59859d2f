"""The approval desk: approvers, identified by their token, approve, reject and revoke.

The HTTP API and the CLI both go through this desk; the aggregates enforce the rules
(quorum, roles, expiry, digest and version binding, no self-approval), the desk only
authenticates, looks up what the approver saw, and retries a write that lost a race.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from agentledger.approval_spans import decision_span
from domain.action import Action
from domain.action_state import Status
from domain.context import CommandContext
from domain.values import ResourceRef
from infra.ledger.approval_index import ApprovalIndex, ApprovalRow
from infra.ledger.commands import Commands
from infra.ledger.ledger import Ledger
from infra.telemetry.metrics import APPROVALS, TIME_TO_APPROVE

log = logging.getLogger("agentledger.approvals")
RACE_RETRIES = 8


@dataclass(frozen=True)
class Approver:
    """A person who may approve: the name recorded on their decisions, and their roles."""

    name: str
    roles: list[str]


class Unauthenticated(Exception):
    """No token, or a token no approver holds."""


class NoSuchApproval(LookupError):
    """The action never asked for approval (or does not exist)."""


class VersionUnavailable(Exception):
    """The resource's current version could not be read, so an approval cannot bind to it."""


class ApprovalDesk:
    """Approve, reject and revoke on the ledger, as an authenticated approver."""

    def __init__(
        self,
        ledger: Ledger,
        approvers: Mapping[str, Approver],
        current_version: Callable[[ResourceRef], str | None],
        context: Callable[[], CommandContext],
        signed_in: Callable[[str], Approver] | None = None,
    ) -> None:
        """Approvers by static token, or ``signed_in`` for a JWT (OpenID Connect).

        ``current_version`` reads a resource's version now.
        """
        if ledger.approvals is None:
            raise TypeError("the ledger was built without its approval index")
        self._ledger = ledger
        self.index: ApprovalIndex = ledger.approvals
        self._approvers = dict(approvers)
        self._signed_in = signed_in
        self._current_version = current_version
        self._context = context

    def identify(self, token: str | None) -> Approver:
        """The approver ``token`` names, or Unauthenticated.

        A static token (compared in constant time) first; then a JWT, if sign-in is set up.
        """
        if token:
            for known, approver in self._approvers.items():
                if hmac.compare_digest(known.encode(), token.encode()):
                    return approver
            if self._signed_in is not None and token.count(".") == 2:  # noqa: PLR2004  # a JWS
                return self._signed_in(token)
        raise Unauthenticated("a valid approver token is required")

    def request(self, action_id: UUID) -> ApprovalRow:
        """The approval request of an action, or NoSuchApproval."""
        row = self.index.get(action_id)
        if row is None:
            raise NoSuchApproval(f"action {action_id} has no approval request")
        return row

    def approve(
        self,
        approver: Approver,
        action_id: UUID,
        *,
        action_digest: str | None = None,
        resource_version: str | None = None,
        comment: str | None = None,
    ) -> Action:
        """Approve, bound to the digest and the resource version the approver saw.

        Without a version, the one the system shows now is what the approver saw.
        """
        row = self.request(action_id)
        if resource_version is None:
            try:
                resource_version = self._current_version(ResourceRef.parse(row.resource_key))
            except Exception as exc:
                raise VersionUnavailable(
                    f"cannot read the current version of {row.resource_key}: {exc}"
                ) from exc
        digest, version = action_digest or row.action_digest, resource_version
        action = self._write(
            action_id,
            lambda tx: tx.approve(
                action_id, approver=approver.name, roles=approver.roles,
                action_digest=digest, resource_version=version, comment=comment,
            ),
            "approve",
        )  # fmt: skip
        if action.status is not Status.AWAITING_APPROVAL:  # the quorum is reached
            APPROVALS.labels("approved").inc()
            waited = self._context().now - row.requested_at
            TIME_TO_APPROVE.observe(max(waited.total_seconds(), 0.0))
        return action

    def reject(self, approver: Approver, action_id: UUID, reason: str) -> Action:
        """Refuse the action for good."""
        self.request(action_id)
        action = self._write(
            action_id,
            lambda tx: tx.reject(action_id, approver=approver.name, reason=reason),
            "reject",
        )
        APPROVALS.labels("rejected").inc()
        return action

    def revoke(self, approver: Approver, action_id: UUID, reason: str) -> Action:
        """Withdraw the authorization (after execution this proposes a compensation)."""
        return self._write(
            action_id,
            lambda tx: tx.revoke(action_id, by=approver.name, reason=reason),
            "revoke",
        )

    def _write(
        self, action_id: UUID, command: Callable[[Commands], None], what: str = "decide"
    ) -> Action:
        """Run ``command`` in its own transaction, again if a concurrent write won the race."""
        for attempt in range(RACE_RETRIES):
            try:
                with (
                    decision_span(self._ledger, action_id, what),
                    self._ledger.batch(self._context()) as tx,
                ):
                    command(tx)
                    return tx.action(action_id)
            except IntegrityError:
                log.info("action %s changed concurrently (try %d); again", action_id, attempt)
        raise RuntimeError(f"action {action_id} kept changing; gave up after {RACE_RETRIES} tries")
