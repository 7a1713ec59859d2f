"""The Prometheus series of agentledger, defined once for every service.

Labels take only values from bounded sets (outcomes, reason codes, configured systems,
our topics, service names): an agent's own text never becomes a label, so no client can
grow the number of series.

Under `agentledger run` every child writes its samples to the shared directory in
``PROMETHEUS_MULTIPROC_DIR`` and one endpoint adds them up; a gauge then says how it is
combined (``livemax``: the highest value among processes still alive).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Buckets (s) for work measured in milliseconds: a batch decided, a policy evaluated."""
HUMAN = (1.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 4 * 3600.0, 86_400.0)
"""Buckets (s) for what a person does: deciding on an approval request."""

PROPOSALS = Counter(
    "agentledger_proposals", "Proposals the decider recorded, by outcome.", ["outcome"]
)
REJECTIONS = Counter(
    "agentledger_proposal_rejections",
    "Proposals rejected before the policy was asked, by reason code.",
    ["reason"],
)
DECISION_SECONDS = Histogram(
    "agentledger_decision_seconds",
    "Time from a batch of proposals reaching the decider to its decisions being recorded,"
    " once per proposal of the batch.",
    buckets=FAST,
)
POLICY_SECONDS = Histogram(
    "agentledger_policy_evaluation_seconds", "One evaluation of the policy bundle.", buckets=FAST
)
APPROVALS = Counter(
    "agentledger_approvals",
    "Approval requests by what became of them: requested, approved, rejected, expired.",
    ["result"],
)
TIME_TO_APPROVE = Histogram(
    "agentledger_time_to_approve_seconds",
    "From an approval request to the approval that authorized the action.",
    buckets=HUMAN,
)
EXECUTIONS = Counter(
    "agentledger_executions", "Passes of the executor over an action, by result.", ["result"]
)
CONNECTOR_SECONDS = Histogram(
    "agentledger_connector_seconds", "Calls to a system of record, by system.", ["system"],
    buckets=FAST,
)  # fmt: skip
CONNECTOR_ERRORS = Counter(
    "agentledger_connector_errors",
    "Calls to a system of record that failed, by system and kind"
    " (unavailable, version_conflict, refused).",
    ["system", "kind"],
)
DEAD_LETTERS = Counter(
    "agentledger_dead_letters",
    "Records a consumer gave up on, by consumer, origin topic and reason code.",
    ["consumer", "topic", "reason"],
)
CONSUMER_LAG = Gauge(
    "agentledger_consumer_lag",
    "Records a service's consumer has yet to read, per group, topic and partition.",
    ["service", "group", "topic", "partition"],
    multiprocess_mode="livemax",
)
RELAY_LAG = Gauge(
    "agentledger_relay_lag",
    "Notifications in the event store the active relay has not yet put on Kafka"
    " (absent while no relay is active).",
    ["service"],
    multiprocess_mode="livemax",
)
RESTARTS = Counter(
    "agentledger_service_restarts",
    "Starts of a service after its first under this `agentledger run`.",
    ["service"],
)
UP = Gauge(
    "agentledger_service_up", "1 while the service's process runs.", ["service"],
    multiprocess_mode="livemax",
)  # fmt: skip
READY = Gauge(
    "agentledger_service_ready",
    "1 once the service is connected and has work assigned (or stands by), 0 before.",
    ["service"],
    multiprocess_mode="livemax",
)
