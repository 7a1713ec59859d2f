"""The reconciler's span per action or observation record, in the trace the record carries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from domain.events import DomainEvent
from domain.events.drift import DriftDetected, DriftResolved
from infra.provenance import Headers
from infra.telemetry.tracing import as_headers, from_headers, tracer, wanted


@contextmanager
def reconciling(name: str, headers: Headers) -> Iterator[None]:
    """A ``reconcile`` span, current while the block judges the record and sends its alerts."""
    if not wanted(headers):
        yield
        return
    with tracer.start_as_current_span(
        f"reconcile {name}", context=from_headers(headers), kind=SpanKind.CONSUMER
    ):
        yield


def drift_traced(alert: DomainEvent) -> list[tuple[str, bytes]]:
    """Name the alert's class on the current span; the alert carries the trace on."""
    span = trace.get_current_span()
    if not span.is_recording() and not span.get_span_context().is_valid:
        return []
    if isinstance(alert, DriftDetected):
        span.set_attributes({"agentledger.drift_class": alert.drift_class.value,
                             "agentledger.drift_severity": alert.severity.value})  # fmt: skip
    elif isinstance(alert, DriftResolved):
        span.set_attribute("agentledger.drift_resolved", alert.alert_id)
    return [(key, value) for key, value in as_headers() if isinstance(value, bytes)]
