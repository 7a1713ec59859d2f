"""Trace context across processes: Kafka headers, and the ledger's stored event headers."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from agentledger.bootstrap import catalog
from domain.ids import action_id
from infra.ledger.transcoder import RecordTranscoder
from infra.telemetry.tracing import (
    TRACEPARENT,
    as_headers,
    from_headers,
    recorded_in,
    traceparent,
    wanted,
)  # fmt: skip
from tests.domain_helpers import proposal

pytestmark = pytest.mark.unit
TRACER = TracerProvider().get_tracer("test")


def test_a_span_context_survives_kafka_headers() -> None:
    """Injected as W3C traceparent bytes, extracted back: same trace, same parent span."""
    span = TRACER.start_span("agent")
    headers = as_headers(trace.set_span_in_context(span))
    assert [name for name, _ in headers] == [TRACEPARENT]
    child = TRACER.start_span("decide", context=from_headers(headers))
    assert child.get_span_context().trace_id == span.get_span_context().trace_id
    assert child.parent is not None  # type: ignore[attr-defined]  # the SDK's span
    assert child.parent.span_id == span.get_span_context().span_id  # type: ignore[attr-defined]


def test_records_without_trace_headers_make_no_spans_when_not_exporting() -> None:
    """No traceparent and no exporter: untraced (the decider's hot path pays nothing)."""
    assert not wanted({"agentledger-chain": b"x"})
    assert wanted([(TRACEPARENT, b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01")])
    assert as_headers() == []


def test_an_event_stored_inside_a_trace_keeps_it_in_its_header_only() -> None:
    """The stored header holds the traceparent of the work; the decoded event is unchanged."""
    transcoder = RecordTranscoder(catalog())
    traced = proposal("k1")
    span = TRACER.start_span("decide")
    parent = traceparent(span)
    assert parent is not None
    state = {"originator_topic": "domain.action:Action", "record": traced}
    with recorded_in({action_id(traced.agent_id, traced.idempotency_key): parent}):
        data = transcoder.encode(state)
        untouched = transcoder.encode({"record": proposal("k2")})
    assert transcoder.split(data)[0]["_trace"] == parent
    assert "_trace" not in transcoder.split(untouched)[0]
    assert "_trace" not in transcoder.split(transcoder.encode(state))[0], "only inside the block"
    assert transcoder.decode(data) == state
