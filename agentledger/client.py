"""The agent SDK: propose actions, wait for the ledger's decision.

    client = Client(agent_id="billing-bot")
    ref = client.propose(resource="crm/contact/42", action_type="contact.update",
                         parameters={"tier": "gold"}, idempotency_key="upgrade-42")
    decision = client.wait_for_decision(ref, timeout=30)
    client.known("upgrade-42")  # after a restart: what became of it (None: nothing yet)

Proposals go to ``proposals.v1`` as Avro through the registry, keyed by the resource and
signed with the agent's Ed25519 key (``agentledger agent register`` makes one);
decisions are asked of the HTTP API (``GET /actions/{id}/decision``) with the agent's token.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Self
from uuid import UUID, uuid4

import httpx
from opentelemetry.trace import SpanKind
from pydantic import BaseModel, ConfigDict

from agentledger.bootstrap import topic_serdes
from agentledger.credentials import agent_api_token, kafka_access
from agentledger.settings import Settings
from agentledger.signing_keys import agent_key
from domain.events import ActionProposed
from domain.events.decisions import Obligations
from domain.events.proposals import Reason
from domain.ids import action_id
from domain.proposal_limits import proposal_problem
from domain.signing import as_agent
from domain.values import ResourceRef, Value
from infra.kafka_acls import AGENT, principal_name
from infra.partitioner import partition_for
from infra.proposal_sink import ProposalSink
from infra.telemetry.tracing import tracer

LOOKBACK_MS = 3_600_000
"""How far back ``wait_for_decision`` looks for an action this client did not propose."""
CLOCK_SKEW_MS = 5_000
"""How much earlier than this host's clock the ledger may date a decision."""
POLL_S = 0.1


class ActionRef(BaseModel):
    """A proposal in flight: the action's id, and since when to look for its decision."""

    model_config = ConfigDict(frozen=True)

    action_id: UUID
    agent_id: str
    idempotency_key: str
    resource: str
    partition: int
    proposed_at_ms: int


class Decision(BaseModel):
    """The ledger's answer to a proposal: a policy decision or a rejection."""

    model_config = ConfigDict(frozen=True)

    action_id: UUID
    outcome: str
    """``allow``, ``deny``, ``require_approval`` or ``rejected``."""
    reasons: list[Reason]
    obligations: Obligations | None = None
    bundle_digest: str | None = None
    bundle_version: str | None = None
    input_digest: str | None = None
    existing_action_id: UUID | None = None
    """For a repeated idempotency key: the action the first proposal opened."""


class Known(BaseModel):
    """What became of something this agent proposed, as the ledger knows it now."""

    model_config = ConfigDict(frozen=True)

    action_id: UUID
    idempotency_key: str
    status: str
    """The action's status (``awaiting_approval``, ``applied``...), or ``rejected``."""
    reasons: list[Reason] = []
    """Why it was rejected (a rejection only)."""


class DecisionTimeout(TimeoutError):
    """No decision arrived in time (the decider may be down or lagging)."""


class Client:
    """An agent's connection to the ledger."""

    def __init__(self, agent_id: str, settings: Settings | None = None) -> None:
        """A client proposing as ``agent_id``, against the settings in effect.

        Kafka knows it by the agent's own credential: ``kafka_username`` and
        ``kafka_password`` if set, else the one ``agentledger agent register`` made.
        """
        self.agent_id = agent_id
        self.settings = settings or Settings()
        self._kafka = kafka_access(self.settings, principal_name(AGENT, agent_id))
        proposals = topic_serdes(self.settings, "proposals.v1")["proposals.v1"]
        self._sink = ProposalSink(
            self._kafka, proposals, self.settings.partitions,
            seal=as_agent(agent_key(self.settings, agent_id)),
        )  # fmt: skip
        token = agent_api_token(self.settings, agent_id)
        self._api = httpx.Client(
            base_url=self.settings.api, headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        self._refs: dict[UUID, ActionRef] = {}

    def propose(  # noqa: PLR0913  # a proposal states everything the policy may weigh
        self, *, resource: str | ResourceRef, action_type: str, idempotency_key: str,
        parameters: dict[str, Value] | None = None, preconditions: dict[str, Value] | None = None,
        confidence: float = 1.0, estimated_cost: Decimal | float | None = None,
        plan_id: str | None = None, rationale: str | None = None,
    ) -> ActionRef:  # fmt: skip
        """Produce a signed ActionProposed; returns once the broker has it (not yet decided).

        A value the signature cannot state exactly (an integer beyond 2**53 - 1) is a
        ``ValueError``: send it as a ``Decimal``.
        """
        ref = resource if isinstance(resource, ResourceRef) else ResourceRef.parse(resource)
        now = datetime.now(UTC)
        proposal = ActionProposed.model_validate({
            "metadata": {"event_id": uuid4(), "correlation_id": uuid4(), "occurred_at": now},
            "agent_id": self.agent_id, "idempotency_key": idempotency_key, "resource": ref,
            "action_type": action_type, "parameters": parameters or {},
            "preconditions": preconditions or {}, "confidence": confidence,
            "estimated_cost": None if estimated_cost is None else Decimal(str(estimated_cost)),
            "plan_id": plan_id, "rationale": rationale,
        })  # fmt: skip
        problem = proposal_problem(proposal)
        if problem is not None:  # the decider would reject it as malformed: say so now
            raise ValueError(f"the proposal breaks an intake limit: {problem}")
        with tracer.start_as_current_span(
            f"propose {action_type}", kind=SpanKind.PRODUCER, attributes={
                "gen_ai.operation.name": "execute_tool", "gen_ai.agent.id": self.agent_id,
                "gen_ai.tool.name": action_type, "gen_ai.tool.call.id": idempotency_key,
                "agentledger.action_id": str(action_id(self.agent_id, idempotency_key)),
            },
        ):  # fmt: skip
            self._sink.send(proposal)  # signed with the agent's key on its way
        partition = partition_for(ref.key.encode(), self.settings.partitions)
        aid = action_id(self.agent_id, idempotency_key)
        self._refs[aid] = ActionRef(
            action_id=aid, agent_id=self.agent_id, idempotency_key=idempotency_key,
            resource=ref.key, partition=partition, proposed_at_ms=int(now.timestamp() * 1000),
        )  # fmt: skip
        return self._refs[aid]

    def wait_for_decision(self, action: ActionRef | UUID, timeout: float = 30.0) -> Decision:
        """The decision (or rejection) on ``action``, or :class:`DecisionTimeout`.

        Asked of the HTTP API with the agent's token (an agent reads no topic), the first
        decision since this client proposed it (else within the last hour).
        """
        ref = self._refs.get(action) if isinstance(action, UUID) else action
        aid = action if isinstance(action, UUID) else action.action_id
        since_ms = ref.proposed_at_ms - CLOCK_SKEW_MS if ref else _now_ms() - LOOKBACK_MS
        since = datetime.fromtimestamp(since_ms / 1000, UTC).isoformat()
        deadline, last = time.monotonic() + timeout, "no answer yet"
        answer: httpx.Response | None = None
        while (left := deadline - time.monotonic()) > 0:
            try:
                answer = self._api.get(
                    f"/actions/{aid}/decision", params={"since": since}, timeout=min(left, 10)
                )
            except httpx.TransportError as exc:
                answer, last = None, f"the API at {self.settings.api} did not answer ({exc})"
            else:
                if answer.status_code == httpx.codes.OK:
                    return Decision.model_validate(answer.json())
                if answer.is_client_error and answer.status_code not in WAIT_ON:
                    answer.raise_for_status()  # refused (401): waiting will not change it
                last = f"the API answered {answer.status_code}"  # not yet, limited, or down
            time.sleep(min(_pause(answer), max(deadline - time.monotonic(), 0)))
        raise DecisionTimeout(f"no decision on {aid} within {timeout} s: {last}")

    def known(self, idempotency_key: str) -> Known | None:
        """What became of the proposal with ``idempotency_key``; ``None``: nothing recorded yet.

        After a restart, an agent asks this before acting again. ``None`` is safe to act
        on: a proposal still on its way and one sent again under the same key are one.
        """
        aid = action_id(self.agent_id, idempotency_key)
        answer = self._api.get(f"/actions/{aid}")
        if answer.status_code == httpx.codes.OK:
            return Known(action_id=aid, idempotency_key=idempotency_key,
                         status=answer.json()["status"])  # fmt: skip
        if answer.status_code != httpx.codes.NOT_FOUND:
            answer.raise_for_status()
        decided = self._api.get(f"/actions/{aid}/decision")
        if decided.status_code == httpx.codes.NOT_FOUND:
            return None
        decided.raise_for_status()
        found = Decision.model_validate(decided.json())
        return Known(action_id=aid, idempotency_key=idempotency_key, status=found.outcome,
                     reasons=found.reasons)  # fmt: skip

    def plan(self, plan_id: str) -> list[Known]:
        """Every action this agent proposed under ``plan_id``, in order, and where it stands."""
        answer = self._api.get("/actions", params={"plan_id": plan_id})
        answer.raise_for_status()
        return [
            Known(action_id=row["action_id"], idempotency_key=row["idempotency_key"],
                  status=row["status"])
            for row in answer.json()
        ]  # fmt: skip

    def close(self) -> None:
        """Deliver anything pending."""
        self._sink.close()
        self._api.close()

    def __enter__(self) -> Self:
        """Use as a context manager."""
        return self

    def __exit__(self, *_: object) -> None:
        """Close on exit."""
        self.close()


def _now_ms() -> int:
    return int(time.time() * 1000)


WAIT_ON = {httpx.codes.NOT_FOUND, httpx.codes.TOO_MANY_REQUESTS}
"""Client errors that pass: no decision yet (404), or the API limits this address (429)."""


def _pause(answer: httpx.Response | None) -> float:
    """How long to wait before asking again: the poll interval, or the API's Retry-After."""
    wanted = answer.headers.get("Retry-After", "") if answer is not None else ""
    return float(wanted) if wanted.isdigit() else POLL_S
