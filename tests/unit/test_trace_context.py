"""Trace context across processes: Kafka headers, and the ledger's stored event headers."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from agentledger.api.tracing import TraceRequests
from agentledger.bootstrap import catalog
from consumers.decider.intake import Consumed, Proposal
from consumers.decider.spans import decision_spans
from domain.ids import action_id
from infra.ledger.transcoder import RecordTranscoder
from infra.telemetry.tracing import (
    TRACEPARENT,
    as_headers,
    from_headers,
    recorded_in,
    stored_trace,
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


def test_a_resent_proposal_does_not_take_over_the_first_ones_trace() -> None:
    """Two records of one action in a batch: one span, in the first record's trace."""
    first, forged = proposal("same"), proposal("same")
    spans = decision_spans(
        [Proposal(_consumed(first_parent := TRACER.start_span("agent")), first),
         Proposal(_consumed(TRACER.start_span("someone else")), forged)], "digest",
    )  # fmt: skip
    (span,) = spans.values()
    assert span.get_span_context().trace_id == first_parent.get_span_context().trace_id
    span.end()


def test_a_compensation_is_stored_in_the_trace_of_the_action_it_undoes() -> None:
    """An event whose record names ``compensates_action_id`` takes that action's trace."""
    undone, parent = uuid4(), "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    record = SimpleNamespace(action_id=uuid4(), compensates_action_id=undone)
    with recorded_in({undone: parent}):
        assert stored_trace(record) == parent
    assert stored_trace(record) is None


def test_the_api_traces_any_path_without_failing() -> None:
    """``OPTIONS *`` with a traceparent reaches the app (no IndexError); odd paths name no span."""
    seen: list[str] = []

    async def app(scope: Any, _receive: Any, _send: Any) -> None:
        seen.append(scope["path"])

    header = (b"traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01")
    for path in ("*", "/", "/actions/x", "/whatever/1"):
        scope = {"type": "http", "method": "OPTIONS", "path": path, "headers": [header]}
        asyncio.run(TraceRequests(app)(scope, _nothing, _nothing))
    assert seen == ["*", "/", "/actions/x", "/whatever/1"]


def test_a_collector_that_does_not_answer_does_not_hold_up_a_process_leaving() -> None:
    """Exporting to a port that takes connections and never answers: the exit is prompt.

    The SDK's defaults (a 10 s request timeout, a 30 s exit hook) held such a process 10 s
    and more; the bounded exporter and shutdown leave within a few seconds.
    """
    script = (
        "from infra.telemetry import trace_export, tracing\n"
        "trace_export.configure('probe')\n"
        "for n in range(50):\n"
        "    tracing.tracer.start_span(f'span {n}').end()\n"
    )
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(100)  # connections wait in the backlog, never answered
        env = {
            **os.environ,
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{silent.getsockname()[1]}",
        }
        began = time.monotonic()
        subprocess.run([sys.executable, "-c", script], env=env, timeout=60, check=True,
                       capture_output=True)  # fmt: skip
        assert time.monotonic() - began < 8  # the SDK defaults took 10 s and more here


async def _nothing(*_: Any) -> Any:
    return None


def _consumed(parent: trace.Span) -> Consumed:
    headers = dict(as_headers(trace.set_span_in_context(parent)))
    return Consumed(
        "t", 0, 0, b"k", b"v", {k: v for k, v in headers.items() if isinstance(v, bytes)}
    )
