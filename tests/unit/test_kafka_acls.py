"""The ACL table: docs/stack.md prints the code's table, and its least-privilege rules hold."""

from __future__ import annotations

from confluent_kafka.admin import AclOperation, ResourcePatternType, ResourceType

from agentledger.settings import REPO_ROOT
from infra.kafka_acls import AGENT, SERVICES, TABLE, bindings, in_deployment, markdown


def _writers(topic: str) -> set[str]:
    return {
        grant.principal for grant in TABLE
        if grant.resource == "topic" and grant.name == topic and "Write" in grant.operations
    }  # fmt: skip


def test_the_readme_prints_the_acl_table_of_the_code() -> None:
    """docs/stack.md's "Who may do what on the bus" table is exactly :func:`markdown`."""
    assert markdown() in (REPO_ROOT / "docs" / "stack.md").read_text()


def test_only_the_relay_writes_the_ledgers_topics_and_its_positions() -> None:
    """actions, agents, policies and relay positions have one writer: the relay."""
    for topic in ("actions.v1", "agents.v1", "policies.v1", "relay-positions.v1"):
        assert _writers(topic) == {"relay"}, topic


def test_only_the_observer_writes_observations_and_only_the_reconciler_drift() -> None:
    """Observations and observer positions: the observer; drift and ticks: the reconciler."""
    assert _writers("observations.v1") == {"observer"}
    assert _writers("observer-positions.v1") == {"observer"}
    assert _writers("drift.v1") == {"reconciler"}
    assert _writers("reconciler-ticks.v1") == {"reconciler"}


def test_an_agent_may_write_proposals_and_nothing_else() -> None:
    """An agent's only rights: Write and Describe on proposals (its decisions come from the API)."""
    rows = [grant for grant in TABLE if grant.principal == AGENT]
    assert [(g.resource, g.name, g.operations) for g in rows] == [
        ("topic", "proposals.v1", ("Write", "Describe"))
    ]
    assert {(g.resource, g.name) for g in rows if "Write" in g.operations} == {
        ("topic", "proposals.v1")
    }
    assert all(g.resource != "transactional-id" for g in rows)


def test_no_service_may_create_alter_or_delete_a_topic_of_the_table() -> None:
    """Create, Alter, AlterConfigs, Delete: only on the reconciler's own internal topics."""
    admin = {"Create", "Delete", "Alter", "AlterConfigs"}
    for grant in TABLE:
        if admin & set(grant.operations):
            assert grant == grant.__class__(
                "reconciler", "topic", "reconciler.", prefixed=True, operations=grant.operations
            )
            assert "Delete" not in grant.operations


def test_bindings_carry_the_deployments_prefix_and_the_principals_own_names() -> None:
    """Topics get the prefix, the agent its own user; scratch groups are their reader's own."""
    made = bindings("t1.", "agent.bot", AGENT)
    assert [(b.restype, b.name, b.resource_pattern_type, b.principal) for b in made] == [
        (ResourceType.TOPIC, "t1.proposals.v1", ResourcePatternType.LITERAL, "User:agent.bot"),
    ] * 2  # Write and Describe
    relay = {
        (b.restype, b.name, b.resource_pattern_type) for b in bindings("t1.", "relay", "relay")
    }
    assert (ResourceType.GROUP, "relay.", ResourcePatternType.PREFIXED) in relay, (
        "a service's scratch groups are its own, in every deployment"
    )


def test_every_service_has_bindings_except_the_expirer_which_never_touches_the_bus() -> None:
    """Each service's rights become bindings; DescribeConfigs maps to its Kafka constant."""
    for service in SERVICES:
        made = bindings("", service, service)
        assert bool(made) == (service != "expirer"), service
    assert AclOperation.DESCRIBE_CONFIGS in {b.operation for b in bindings("", "r", "reconciler")}


def test_a_deployment_owns_only_its_own_names_not_those_of_a_longer_prefix() -> None:
    """Withdrawing stale rights in `agentledger.` never touches `agentledger.staging.` or `api-eu.`."""
    assert in_deployment("agentledger.actions.v1", "agentledger.", "agent.bot")  # a dropped row
    assert in_deployment("agentledger.relay.", "agentledger.", "relay")
    assert in_deployment("relay.", "agentledger.", "relay")  # its scratch groups
    assert not in_deployment("agentledger.staging.actions.v1", "agentledger.", "agent.bot")
    assert not in_deployment("agentledger.staging.relay.", "agentledger.", "relay")
    assert not in_deployment("api-eu.proposals.v1", "agentledger.", "api")
    assert not in_deployment("api-eu.", "agentledger.", "api")
