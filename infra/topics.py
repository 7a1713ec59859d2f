"""The topic table of DESIGN.md: every topic, what it carries, and its configs."""

from __future__ import annotations

from dataclasses import dataclass

FOREVER = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}

ACTION_LIFECYCLE = (
    "ActionProposed", "ProposalRejected", "PolicyDecided", "ApprovalRequested", "Approved",
    "ApprovalRejected", "ApprovalExpired", "Revoked", "Authorized", "ExecutionStarted",
    "MutationApplied", "MutationFailed", "CompensationProposed", "LeaseAcquired", "LeaseReleased",
    "ShadowDecisionDiffered", "ExecutionDeferred",
)  # fmt: skip
AGENT_REGISTRY = (
    "AgentRegistered", "AgentScopesChanged", "AgentBudgetChanged", "AgentSuspended",
    "AgentReinstated", "BudgetReserved", "BudgetSettled", "BudgetReleased", "AgentKeyRegistered",
    "AgentKeyRevoked", "FleetStopped", "FleetResumed",
)  # fmt: skip


DEAD_LETTER_MAX_BYTES = 8 * 1024 * 1024
"""A dead letter keeps the whole bad record, so it may exceed the limit the record broke."""

DEAD_LETTER_PRODUCER = {"message.max.bytes": DEAD_LETTER_MAX_BYTES + 64 * 1024}
"""What a producer of dead letters needs: librdkafka refuses records over 1,000,000 bytes
by default, so a letter carrying a record near the 1 MiB limit could not be sent."""


@dataclass(frozen=True)
class TopicSpec:
    """One topic: name without prefix, the Avro records it carries, configs, size limit."""

    name: str
    records: tuple[str, ...]
    config: dict[str, str]
    max_bytes: int | None = None
    """Largest record; ``None`` means the ``max_record_bytes`` setting."""
    partitions: int | None = None
    """Partition count; ``None`` means the ``partitions`` setting (every keyed topic)."""
    internal: bool = False
    """A working topic of one service (no contract, short retention), not a DESIGN.md topic."""
    signed_by: str | None = None
    """The service whose signature each record must carry to be acted on (``None``: anyone's)."""
    chained: bool = False
    """Whether the relay chains the topic's records (and signs each one's chain link)."""


TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("proposals.v1", ("ActionProposed",), FOREVER),
    TopicSpec("actions.v1", ACTION_LIFECYCLE, FOREVER, signed_by="relay", chained=True),
    TopicSpec(
        "observations.v1",
        ("ExternalStateObserved", "ChangeFeedChecked"),
        FOREVER,
        signed_by="observer",
        chained=True,
    ),
    TopicSpec("drift.v1", ("DriftDetected", "DriftResolved"), FOREVER, signed_by="reconciler"),
    TopicSpec("agents.v1", AGENT_REGISTRY, FOREVER, signed_by="relay", chained=True),
    TopicSpec("policies.v1", ("PolicyBundlePublished",), FOREVER, signed_by="relay", chained=True),
    TopicSpec(
        "deadletter.v1",
        ("DeadLetter",),
        FOREVER | {"max.message.bytes": str(DEAD_LETTER_MAX_BYTES)},
        DEAD_LETTER_MAX_BYTES,
    ),
    TopicSpec(
        "reconciler-ticks.v1",
        (),
        {"cleanup.policy": "delete", "retention.ms": str(3_600_000)},
        internal=True,
    ),
    TopicSpec(
        "relay-positions.v1", (), {"cleanup.policy": "compact"}, partitions=1, signed_by="relay"
    ),
    TopicSpec("checkpoints.v1", (), FOREVER, partitions=1, signed_by="relay"),
    TopicSpec(
        "observer-positions.v1",
        (),
        {"cleanup.policy": "compact"},
        partitions=1,
        signed_by="observer",
    ),
)
"""Every topic is keyed by the resource key and has the same partition count."""


RELAYED = tuple(spec.name for spec in TOPICS if spec.chained and spec.signed_by == "relay")
"""The topics the relay chains, unprefixed."""


def topic_spec(name: str) -> TopicSpec:
    """The spec of a topic by its unprefixed name, e.g. ``"actions.v1"``."""
    for spec in TOPICS:
        if spec.name == name:
            return spec
    raise KeyError(f"no topic {name!r} in the topic table")
