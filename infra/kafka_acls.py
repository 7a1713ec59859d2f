"""Who may do what on the bus: the one ACL table, and its translation into Kafka bindings.

Each service has its own principal (its SCRAM user) and only the rights its work needs;
the operator is a super user (it creates topics and grants these rights). An agent
that uses Kafka directly gets a principal of its own, ``agent.<id>``, created by
``agentledger agent register``: one credential per agent can be revoked alone, and the
broker then refuses that agent without touching the others.

Names are written without the deployment's topic prefix (``actions.v1``); every
binding is made for one prefix, so deployments sharing a cluster stay apart. A
``prefixed`` name covers every name that starts with it: each service's groups,
transactional ids and internal topics start with ``<prefix><service>.``.
"""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from infra.topics import TOPICS

SERVICES = ("relay", "decider", "executor", "observer", "projector", "reconciler", "expirer", "api")
OPERATOR = "operator"
AGENT = "agent.<id>"
"""The table's name for any agent's principal."""
BROKER_USERS = ("broker", OPERATOR)
"""Super users: the broker itself (inter-broker traffic) and the operator."""


@dataclass(frozen=True)
class Grant:
    """One row: ``principal`` may do ``operations`` on a resource (name without the prefix)."""

    principal: str
    resource: str
    """``topic``, ``group`` or ``transactional-id``."""
    name: str
    prefixed: bool
    operations: tuple[str, ...]
    scoped: bool = True
    """Named within the deployment's prefix; else the principal's own, in every deployment."""


def _topic(principal: str, name: str, *operations: str) -> Grant:
    return Grant(principal, "topic", name, prefixed=False, operations=operations)


def _own(principal: str, resource: str, *operations: str) -> Grant:
    return Grant(principal, resource, f"{principal}.", prefixed=True, operations=operations)


def _scratch(principal: str) -> Grant:
    """Groups of readers that never commit (``KafkaAccess.scratch_group``)."""
    return Grant(principal, "group", f"{principal}.", prefixed=True, operations=("Read",),
                 scoped=False)  # fmt: skip


WRITE = ("Write", "Describe")
READ = ("Read", "Describe")
TABLE: tuple[Grant, ...] = (
    _topic(AGENT, "proposals.v1", *WRITE),
    _topic("api", "proposals.v1", *WRITE),
    *(_topic("relay", name, *READ, "Write") for name in ("actions.v1", "agents.v1", "policies.v1")),
    _topic("relay", "relay-positions.v1", *READ, "Write"),
    _topic("relay", "checkpoints.v1", *WRITE),
    _topic("relay", "deadletter.v1", *WRITE),
    _scratch("relay"),
    _own("relay", "transactional-id", *WRITE),
    _topic("decider", "proposals.v1", *READ),
    _topic("decider", "deadletter.v1", *WRITE),
    Grant("decider", "group", "decider", prefixed=True, operations=("Read",)),
    _topic("executor", "actions.v1", *READ),
    _topic("executor", "proposals.v1", *WRITE),
    _topic("executor", "deadletter.v1", *WRITE),
    _own("executor", "group", "Read"),
    _topic("observer", "observations.v1", *READ, "Write"),  # reads where its chains end
    _topic("observer", "observer-positions.v1", *READ, "Write"),
    _topic("observer", "deadletter.v1", *WRITE),
    _scratch("observer"),
    _own("observer", "transactional-id", *WRITE),
    *(_topic("projector", name, *READ) for name in ("actions.v1", "observations.v1", "drift.v1")),
    *(_topic("projector", name, *READ) for name in ("agents.v1", "policies.v1")),
    _topic("projector", "deadletter.v1", *WRITE),
    _own("projector", "group", "Read"),
    _scratch("projector"),
    *(_topic("reconciler", name, *READ) for name in ("actions.v1", "observations.v1")),
    _topic("reconciler", "drift.v1", *WRITE),
    _topic("reconciler", "reconciler-ticks.v1", *READ, "Write"),
    _topic("reconciler", "deadletter.v1", *WRITE),
    _own("reconciler", "topic", "Create", "Read", "Write", "Describe", "DescribeConfigs"),
    _own("reconciler", "group", "Read", "Describe"),
    _own("reconciler", "transactional-id", *WRITE),
)
"""Every right on the bus besides the super users'. docs/stack.md prints it (a test compares)."""

_RESOURCES = {
    "topic": ResourceType.TOPIC, "group": ResourceType.GROUP,
    "transactional-id": ResourceType.TRANSACTIONAL_ID,
}  # fmt: skip


def in_deployment(name: str, prefix: str, user: str) -> bool:
    """Whether resource ``name`` of ``user``'s is one the table grants in deployment ``prefix``.

    Exactly: a topic of the deployment, a name a table row makes under its prefix, or the
    user's own scratch groups. A deployment whose prefix merely starts with ``prefix``
    (``agentledger.staging.`` under ``agentledger.``) is another one.
    """
    if name == f"{user}.":
        return True
    tails = {spec.name for spec in TOPICS}
    tails |= {grant.name.replace(AGENT, user) for grant in TABLE if grant.scoped}
    return name.startswith(prefix) and name[len(prefix) :] in tails


def principal_name(principal: str, agent_id: str | None = None) -> str:
    """The SCRAM user of a table principal (``agent.<id>`` needs ``agent_id``)."""
    if principal != AGENT:
        return principal
    if not agent_id:
        raise ValueError("an agent's principal needs its agent id")
    return f"agent.{agent_id}"


def bindings(prefix: str, user: str, principal: str) -> list[AclBinding]:
    """The Kafka ACL bindings that give SCRAM ``user`` the rights of table ``principal``."""
    return [
        AclBinding(
            _RESOURCES[grant.resource],
            (prefix if grant.scoped else "") + grant.name.replace(AGENT, user),
            ResourcePatternType.PREFIXED if grant.prefixed else ResourcePatternType.LITERAL,
            f"User:{user}", "*", AclOperation[_constant(operation)], AclPermissionType.ALLOW,
        )
        for grant in TABLE if grant.principal == principal
        for operation in grant.operations
    ]  # fmt: skip


def _constant(operation: str) -> str:
    """``DescribeConfigs`` -> ``DESCRIBE_CONFIGS``."""
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(operation)).upper()


def markdown(prefix_shown: str = "<prefix>") -> str:
    """The table as docs/stack.md prints it."""
    rows = ["| principal | resource | name | operations |", "|---|---|---|---|"]
    rows += [
        f"| `{grant.principal}` | {grant.resource}"
        f" | `{prefix_shown if grant.scoped else ''}{grant.name}`"
        f"{'*' if grant.prefixed else ''} | {', '.join(grant.operations)} |"
        for grant in TABLE
    ]
    return "\n".join(rows)
