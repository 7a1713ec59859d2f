"""An approver's decision as a span of the action's own trace, linked to the request's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from infra.ledger.ledger import Ledger
from infra.ledger.traced import resumed_span


@contextmanager
def decision_span(ledger: Ledger, action_id: UUID, what: str) -> Iterator[None]:
    """A ``<what> approval`` span under the action's stored trace, while the block records.

    The events the block stores carry it on, so the execution that follows an approval
    stays in the trace the agent's proposal started; the approver's request is a link.
    """
    with resumed_span(ledger, action_id, f"{what} approval", {"agentledger.approval": what}):
        yield
