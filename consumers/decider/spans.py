"""The decider's spans: one per proposal, in the trace its record's headers carry."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from consumers.decider.intake import Intake, Proposal
from domain.ids import action_id
from infra.telemetry.tracing import from_headers, tracer, wanted


def decision_spans(items: Sequence[Intake], bundle_digest: str) -> dict[UUID, trace.Span]:
    """A started ``decide`` span per well-formed proposal whose work is traced, by action id.

    Attributes follow the GenAI conventions where they fit (the agent, the tool an agent
    calls: the action type, the call's id: the idempotency key), plus ``agentledger.*``.
    """
    spans: dict[UUID, trace.Span] = {}
    for item in items:
        if not isinstance(item, Proposal) or not wanted(item.consumed.headers):
            continue
        proposal = item.record
        aid = action_id(proposal.agent_id, proposal.idempotency_key)
        if aid in spans:  # the first record of an action names its trace; a resend does not
            continue
        spans[aid] = tracer.start_span(
            f"decide {proposal.action_type}", context=from_headers(item.consumed.headers),
            kind=SpanKind.CONSUMER, attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.agent.id": proposal.agent_id,
                "gen_ai.agent.name": proposal.agent_id, "gen_ai.tool.name": proposal.action_type,
                "gen_ai.tool.call.id": proposal.idempotency_key,
                "agentledger.action_id": str(aid), "agentledger.resource": proposal.resource.key,
                "agentledger.bundle_digest": bundle_digest,
            },
        )  # fmt: skip
    return spans
