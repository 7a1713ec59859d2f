"""The agent SDK: propose actions, wait for the ledger's decision.

    client = Client(agent_id="billing-bot")
    ref = client.propose(resource="crm/contact/42", action_type="contact.update",
                         parameters={"tier": "gold"}, idempotency_key="upgrade-42")
    decision = client.wait_for_decision(ref, timeout=30)

Proposals go to ``proposals.v1`` as Avro through the registry, keyed by the resource;
decisions are read back from ``actions.v1`` (``read_committed``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Self
from uuid import UUID, uuid4

from confluent_kafka import Consumer, TopicPartition
from pydantic import BaseModel, ConfigDict

from agentledger.bootstrap import topic_serdes
from agentledger.credentials import kafka_access
from agentledger.settings import Settings
from domain.events import ActionProposed, PolicyDecided, ProposalRejected
from domain.events.decisions import Obligations
from domain.events.proposals import Reason
from domain.ids import action_id
from domain.values import ResourceRef, Value
from infra.batches import ready_batch
from infra.kafka_acls import AGENT, principal_name
from infra.kafka_config import client_config
from infra.proposal_sink import ProposalSink
from infra.serde.errors import BadRecord
from infra.watermarks import offsets_since

LOOKBACK_MS = 3_600_000
"""How far back ``wait_for_decision`` looks for an action this client did not propose."""


class ActionRef(BaseModel):
    """A proposal in flight: the action's id and where to look for its decision."""

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
        serdes = topic_serdes(self.settings, "proposals.v1", "actions.v1")
        self._proposals, self._actions = serdes["proposals.v1"], serdes["actions.v1"]
        self._sink = ProposalSink(self._kafka, self._proposals, self.settings.partitions)
        self._refs: dict[UUID, ActionRef] = {}

    def propose(  # noqa: PLR0913  # a proposal states everything the policy may weigh
        self, *, resource: str | ResourceRef, action_type: str, idempotency_key: str,
        parameters: dict[str, Value] | None = None, preconditions: dict[str, Value] | None = None,
        confidence: float = 1.0, estimated_cost: Decimal | float | None = None,
        plan_id: str | None = None, rationale: str | None = None,
    ) -> ActionRef:  # fmt: skip
        """Produce an ActionProposed; returns once the broker has it (not yet decided)."""
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
        partition = self._sink.send(proposal)
        aid = action_id(self.agent_id, idempotency_key)
        self._refs[aid] = ActionRef(
            action_id=aid, agent_id=self.agent_id, idempotency_key=idempotency_key,
            resource=ref.key, partition=partition, proposed_at_ms=int(now.timestamp() * 1000),
        )  # fmt: skip
        return self._refs[aid]

    def wait_for_decision(self, action: ActionRef | UUID, timeout: float = 30.0) -> Decision:
        """The decision (or rejection) on ``action``, or :class:`DecisionTimeout`."""
        ref = self._refs.get(action) if isinstance(action, UUID) else action
        aid = action if isinstance(action, UUID) else action.action_id
        topic = self._actions.topic
        if ref is not None:
            starts = [TopicPartition(topic, ref.partition, ref.proposed_at_ms - 5_000)]
        else:
            since = int(time.time() * 1000) - LOOKBACK_MS
            starts = [TopicPartition(topic, p, since) for p in range(self.settings.partitions)]
        group = self._kafka.scratch_group("wait")
        consumer = Consumer(client_config(self._kafka, {
            "group.id": group,
            "enable.auto.commit": False, "isolation.level": "read_committed",
            "auto.offset.reset": "earliest",
        }))  # fmt: skip
        try:
            consumer.assign(offsets_since(consumer, starts))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for message in ready_batch(consumer, 500, 0.1):
                    if message.error() is None:
                        found = self._decision_in(message.value(), aid)
                        if found is not None:
                            return found
        finally:
            consumer.close()
        raise DecisionTimeout(f"no decision on {aid} within {timeout} s")

    def close(self) -> None:
        """Deliver anything pending."""
        self._sink.close()

    def __enter__(self) -> Self:
        """Use as a context manager."""
        return self

    def __exit__(self, *_: object) -> None:
        """Close on exit."""
        self.close()

    def _decision_in(self, payload: bytes | None, aid: UUID) -> Decision | None:
        try:
            record: Any = self._actions.deserialize(payload)
        except BadRecord:
            return None
        if isinstance(record, PolicyDecided) and record.action_id == aid:
            return Decision(
                action_id=aid, outcome=record.outcome.value, reasons=record.reasons,
                obligations=record.obligations, bundle_digest=record.bundle_digest,
                bundle_version=record.bundle_version, input_digest=record.input_digest,
            )  # fmt: skip
        if isinstance(record, ProposalRejected) and record.action_id == aid:
            return Decision(
                action_id=aid, outcome="rejected", reasons=[record.reason],
                existing_action_id=record.existing_action_id,
            )  # fmt: skip
        return None
