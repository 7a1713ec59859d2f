"""An approver's decision as a span of the action's own trace, linked to the request's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind

from infra.ledger.ledger import Ledger
from infra.telemetry.tracing import (
    TRACEPARENT,
    from_headers,
    recorded_in,
    traceparent,
    tracer,
    tracing,
)


@contextmanager
def decision_span(ledger: Ledger, action_id: UUID, what: str) -> Iterator[None]:
    """A ``<what> approval`` span under the action's stored trace, while the block records.

    The events the block stores carry it on, so the execution that follows an approval
    stays in the trace the agent's proposal started; the approver's request is a link.
    """
    if not tracing():
        yield
        return
    stored = ledger.stored_trace(action_id)
    request = trace.get_current_span().get_span_context()
    span = tracer.start_span(
        f"{what} approval",
        context=from_headers([(TRACEPARENT, stored)]) if stored else None,
        kind=SpanKind.INTERNAL, links=[Link(request)] if request.is_valid else None,
        attributes={"agentledger.action_id": str(action_id), "agentledger.approval": what},
    )  # fmt: skip
    with trace.use_span(span, end_on_exit=True), recorded_in({action_id: traceparent(span)}):
        yield
