"""Send a ``CompensationProposed`` back through policy as an ordinary proposal.

A revocation after execution records ``CompensationProposed`` on the revoked action;
the executor sees it on ``actions.v1`` and proposes the undo the ledger recorded on
``proposals.v1`` for the same agent, with an idempotency key derived from the revoked
action. A redelivery
proposes the same key again, which the decider answers as a duplicate: the
compensation is decided (and possibly executed) once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from domain.action import Action
from domain.events import ActionProposed, CompensationProposed
from domain.ids import compensation_key
from infra.proposal_sink import ProposalSink


class CompensationNotRecorded(Exception):
    """A ``CompensationProposed`` on the topic that the ledger does not hold: never forwarded."""


class CompensationForwarder:
    """Turns compensation records into proposals, with what the ledger recorded."""

    def __init__(
        self, sink: ProposalSink, actions: Callable[[UUID], Action | None],
        clock: Callable[[], datetime], new_id: Callable[[], UUID],
    ) -> None:  # fmt: skip
        """Propose through ``sink``; ``actions`` reads an action from the ledger."""
        self._sink = sink
        self._actions = actions
        self._clock = clock
        self._new_id = new_id

    def forward(self, record: CompensationProposed) -> ActionProposed:
        """Propose the compensation the ledger recorded; returns the proposal sent.

        The record on the topic only says which action: agent, resource, type and
        parameters come from the ledger, so a forged record cannot choose them.
        """
        revoked = self._actions(record.compensates_action_id)
        undo = revoked.compensation() if revoked is not None else None
        if revoked is None or undo is None:
            raise CompensationNotRecorded(
                f"the ledger records no compensation of action {record.compensates_action_id}"
            )
        action_type, parameters = undo
        proposal = ActionProposed.model_validate({
            "metadata": {
                "event_id": self._new_id(), "correlation_id": record.metadata.correlation_id,
                "causation_id": record.metadata.event_id, "occurred_at": self._clock(),
            },
            "agent_id": revoked.agent_id,
            "idempotency_key": compensation_key(revoked.id),
            "resource": revoked.resource, "action_type": action_type,
            "parameters": parameters, "preconditions": {}, "confidence": 1.0,
            "rationale": f"compensates {revoked.id}: {record.reason}",
        })  # fmt: skip
        return self._sink.send(proposal)  # attested with the executor's key on its way
