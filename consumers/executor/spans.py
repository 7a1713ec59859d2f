"""The executor's span for an authorized action, in the trace its record carries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka import Message
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from domain.events import Authorized
from infra.batches import headers_of
from infra.telemetry.tracing import action_spans, from_headers, tracer, wanted


@contextmanager
def execution_span(message: Message, authorized: Authorized) -> Iterator[None]:
    """An ``execute`` span, current while the block runs; events it stores carry it on."""
    headers = headers_of(message)
    if not wanted(headers):
        yield
        return
    aid = authorized.action_id
    span = tracer.start_span(
        f"execute {authorized.action_type}", context=from_headers(headers),
        kind=SpanKind.CONSUMER, attributes={
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": authorized.action_type,
            "agentledger.action_id": str(aid), "agentledger.resource": authorized.resource.key,
        },
    )  # fmt: skip
    with trace.use_span(span, end_on_exit=False), action_spans({aid: span}):
        yield
