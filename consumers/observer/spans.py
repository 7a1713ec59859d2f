"""The observer's span for a change a traced write made: the action's trace goes on to drift."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from infra.connectors.base import Change
from infra.telemetry.tracing import TRACEPARENT, Header, as_headers, from_headers, tracer


def observed(source: str, change: Change) -> list[Header]:
    """The trace headers of the change's observation: an ``observe`` span under its write's."""
    if change.trace is None:
        return []
    span = tracer.start_span(
        f"observe {source}", context=from_headers([(TRACEPARENT, change.trace)]),
        kind=SpanKind.PRODUCER, attributes={
            "agentledger.system": source, "agentledger.resource": change.resource.key,
            "agentledger.change_sequence": change.sequence,
        },
    )  # fmt: skip
    span.end()
    return as_headers(trace.set_span_in_context(span))
