"""OpenTelemetry traces that follow one governed action across processes.

Exported over OTLP (HTTP) when the standard variables ask for it
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, and
``OTEL_SDK_DISABLED`` not true); otherwise the API's no-op tracer costs next to nothing.
The context travels as W3C ``traceparent`` in HTTP headers and Kafka record headers, and
through the ledger in each stored event's header (``_trace``), set by :func:`recorded_in`
for the events the block stores: the relay puts it on the record it publishes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from uuid import UUID

from opentelemetry import propagate, trace
from opentelemetry.context import Context

from domain.events import ActionProposed
from domain.ids import action_id

TRACEPARENT = "traceparent"
ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

tracer = trace.get_tracer("agentledger")
_STORED: ContextVar[Mapping[UUID, str] | None] = ContextVar("stored_traces", default=None)
_SPANS: ContextVar[Mapping[UUID, trace.Span] | None] = ContextVar("action_spans", default=None)
_EXPORTING = False

Header = tuple[str, str | bytes | None]
Headers = Mapping[str, bytes | str | None] | Iterable[Header] | None


def exporting() -> bool:
    """Whether the ``OTEL_*`` variables ask for spans to be exported."""
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    return not disabled and any(os.environ.get(name) for name in ENDPOINTS)


def configure(service: str) -> None:
    """Export this process's spans as ``agentledger-<service>``, if the environment asks."""
    global _EXPORTING  # noqa: PLW0603  # set once per process, at start
    if not exporting():
        return
    _EXPORTING = True
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: PLC0415  # only when exporting
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

    provider = TracerProvider(resource=Resource.create({"service.name": f"agentledger-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def from_headers(headers: Headers) -> Context:
    """The trace context a Kafka record's (or HTTP request's) headers carry, if any."""
    return propagate.extract(_carrier(headers))


def _carrier(headers: Headers) -> dict[str, str]:
    """The W3C trace headers among ``headers`` (bytes as Latin-1), others left out."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    return {
        name: value.decode("latin-1") if isinstance(value, bytes) else value
        for name, value in pairs
        if name in {TRACEPARENT, "tracestate"} and value is not None
    }


def as_headers(context: Context | None = None) -> list[Header]:
    """The current (or ``context``'s) trace context as Kafka record headers; none if no span."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context)
    return [(name, value.encode()) for name, value in carrier.items()]


def traceparent(span: trace.Span | None = None) -> str | None:
    """The W3C ``traceparent`` of ``span`` (the current one by default), or ``None``."""
    context = trace.set_span_in_context(span) if span is not None else None
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context)
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
    action = getattr(record, "action_id", None)
    if action is None and isinstance(record, ActionProposed):
        action = action_id(record.agent_id, record.idempotency_key)
    return stored.get(action) if isinstance(action, UUID) else None


def wanted(headers: Headers) -> bool:
    """Whether work on a record with ``headers`` makes spans (exporting, or a trace to go on)."""
    return _EXPORTING or TRACEPARENT in _carrier(headers)


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


def flush(timeout_s: float = 5.0) -> None:
    """Export the spans still held (before a process leaves with ``os._exit``)."""
    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    if force_flush is not None:
        force_flush(int(timeout_s * 1000))


def tracing() -> bool:
    """Whether spans are made here: exporting, or inside a trace a caller started."""
    return _EXPORTING or trace.get_current_span().get_span_context().is_valid
