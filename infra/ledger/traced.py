"""Work on an action found in the ledger, traced in the action's own trace.

Work that starts from the ledger rather than from a record (an approver's decision, a
retry whose time came, an execution re-driven after a crash, an expiry) has no trace
context of its own: its span continues the trace the action's events were stored with,
linked to whatever the work was called from.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from uuid import UUID

from opentelemetry import trace
from opentelemetry.trace import Link

from infra.ledger.ledger import Ledger
from infra.telemetry.tracing import (
    TRACEPARENT,
    from_headers,
    recorded_in,
    traceparent,
    tracer,
    tracing,
)  # fmt: skip


@contextmanager
def resumed_span(
    ledger: Ledger, action_id: UUID, name: str, attributes: Mapping[str, str] | None = None
) -> Iterator[None]:
    """A span named ``name`` under the action's stored trace, current while the block runs.

    The events the block stores carry it on. Nothing is read when nothing is traced.
    """
    if not tracing():
        yield
        return
    stored = ledger.stored_trace(action_id)
    caller = trace.get_current_span().get_span_context()
    span = tracer.start_span(
        name, context=from_headers([(TRACEPARENT, stored)]) if stored else None,
        links=[Link(caller)] if caller.is_valid else None,
        attributes={"agentledger.action_id": str(action_id), **(attributes or {})},
    )  # fmt: skip
    with trace.use_span(span, end_on_exit=True), recorded_in({action_id: traceparent(span)}):
        yield
