"""Send a ``CompensationProposed`` back through policy as an ordinary proposal.

A revocation after execution records ``CompensationProposed`` on the revoked action;
the executor sees it on ``actions.v1`` and proposes the undo on ``proposals.v1`` for the
same agent, with an idempotency key derived from the revoked action. A redelivery
proposes the same key again, which the decider answers as a duplicate: the
compensation is decided (and possibly executed) once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from domain.events import ActionProposed, CompensationProposed
from domain.ids import compensation_key
from infra.proposal_sink import ProposalSink


class CompensationForwarder:
    """Turns compensation records into proposals."""

    def __init__(
        self, sink: ProposalSink, clock: Callable[[], datetime], new_id: Callable[[], UUID]
    ) -> None:
        """Propose through ``sink``."""
        self._sink = sink
        self._clock = clock
        self._new_id = new_id

    def forward(self, record: CompensationProposed) -> ActionProposed:
        """Propose the compensation; returns the proposal sent."""
        proposal = ActionProposed.model_validate({
            "metadata": {
                "event_id": self._new_id(), "correlation_id": record.metadata.correlation_id,
                "causation_id": record.metadata.event_id, "occurred_at": self._clock(),
            },
            "agent_id": record.agent_id,
            "idempotency_key": compensation_key(record.compensates_action_id),
            "resource": record.resource, "action_type": record.action_type,
            "parameters": record.parameters, "preconditions": {}, "confidence": 1.0,
            "rationale": f"compensates {record.compensates_action_id}: {record.reason}",
        })  # fmt: skip
        self._sink.send(proposal)
        return proposal
