"""OpenTelemetry traces that follow one governed action across processes.

Spans are exported as :mod:`infra.telemetry.trace_export` says; otherwise the API's
no-op tracer costs next to nothing. The context travels as W3C ``traceparent`` in HTTP
headers and Kafka record headers, and through the ledger in each stored event's header
(``_trace``), set by :func:`recorded_in` for the events the block stores: the relay puts
it on the record it publishes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from uuid import UUID

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from domain.events import ActionProposed
from domain.ids import action_id
from infra.telemetry.trace_export import exporting

TRACEPARENT = "traceparent"

tracer = trace.get_tracer("agentledger")
_STORED: ContextVar[Mapping[UUID, str] | None] = ContextVar("stored_traces", default=None)
_SPANS: ContextVar[Mapping[UUID, trace.Span] | None] = ContextVar("action_spans", default=None)
PROPAGATOR = TraceContextTextMapPropagator()
"""Only W3C traceparent crosses a process: no baggage onto the bus, no tracestate read."""

Header = tuple[str, str | bytes | None]
Headers = Mapping[str, bytes | str | None] | Iterable[Header] | None


def from_headers(headers: Headers) -> Context:
    """The trace context a Kafka record's (or HTTP request's) headers carry, if any."""
    return PROPAGATOR.extract(_carrier(headers))


def _carrier(headers: Headers) -> dict[str, str]:
    """The W3C trace headers among ``headers`` (bytes as Latin-1), others left out."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    return {
        name: value.decode("latin-1") if isinstance(value, bytes) else value
        for name, value in pairs
        if name == TRACEPARENT and value is not None
    }


def as_headers(context: Context | None = None) -> list[Header]:
    """The current (or ``context``'s) trace context as Kafka record headers; none if no span."""
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier, context=context)
    return [(name, value.encode()) for name, value in carrier.items()]


def traceparent(span: trace.Span | None = None) -> str | None:
    """The W3C ``traceparent`` of ``span`` (the current one by default), or ``None``."""
    context = trace.set_span_in_context(span) if span is not None else None
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier, context=context)
    return carrier.get(TRACEPARENT)


@contextmanager
def recorded_in(traces: Mapping[UUID, str | None]) -> Iterator[None]:
    """Events about these actions stored in the block carry their ``traceparent``."""
    known = {aggregate: parent for aggregate, parent in traces.items() if parent}
    token = _STORED.set({**(_STORED.get() or {}), **known})
    try:
        yield
    finally:
        _STORED.reset(token)


def stored_trace(record: object) -> str | None:
    """The ``traceparent`` an event about an action carries (see :func:`recorded_in`)."""
    stored = _STORED.get()
    if not stored:
        return None
    if isinstance(record, ActionProposed):
        return stored.get(action_id(record.agent_id, record.idempotency_key))
    for field in ("action_id", "compensates_action_id"):  # a compensation: its origin's trace
        action = getattr(record, field, None)
        if isinstance(action, UUID) and action in stored:
            return stored[action]
    return None


def wanted(headers: Headers) -> bool:
    """Whether work on a record with ``headers`` makes spans (exporting, or a trace to go on)."""
    return exporting() or TRACEPARENT in _carrier(headers)


@contextmanager
def action_spans(spans: Mapping[UUID, trace.Span]) -> Iterator[None]:
    """While the block runs, :func:`annotate` reaches these spans (by action id); then ended.

    Events of these actions stored in the block carry their span's ``traceparent``.
    """
    token = _SPANS.set(spans)
    try:
        with recorded_in({aid: traceparent(span) for aid, span in spans.items()}):
            yield
    finally:
        _SPANS.reset(token)
        for span in spans.values():
            span.end()


def annotate(action: UUID, attributes: Mapping[str, str]) -> None:
    """Add ``attributes`` to the span of ``action`` (see :func:`action_spans`), if it has one."""
    spans = _SPANS.get()
    span = spans.get(action) if spans else None
    if span is not None:
        span.set_attributes(dict(attributes))


def tracing() -> bool:
    """Whether spans are made here: exporting, or inside a trace a caller started."""
    return exporting() or trace.get_current_span().get_span_context().is_valid
