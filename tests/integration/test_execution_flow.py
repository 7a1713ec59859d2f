"""End to end through Kafka: propose, decide, approve, execute on both systems, observe."""

from __future__ import annotations

import pytest

from agentledger.services import services
from agentledger.settings import Settings
from domain.action_state import Status
from domain.events import ExternalStateObserved, ProposalRejected
from domain.ids import action_id, compensation_key
from domain.values import ResourceRef
from infra.connectors.base import Mutation, Operation
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger
from tests.conftest import unique
from tests.decider_helpers import read_topic, register
from tests.execution_helpers import ALICE, desk, resource
from tests.kafka_helpers import enrolled_client
from tests.service_helpers import wait_status

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("system", ["billing", "crm"])
def test_a_proposal_is_approved_executed_observed_and_compensated(
    isolated: Settings, own_ledger: Ledger, systems: Connectors, system: str
) -> None:
    """First contact needs approval; then the change runs once, is observed, and a revocation compensates."""
    kind, action_type = {
        "crm": ("contact", "contact.update"),
        "billing": ("invoice", "invoice.update"),
    }[system]
    key = resource(system, kind)
    ref = ResourceRef.parse(key)
    systems[system].apply(Mutation(ref, Operation.UPSERT, {"tier": "silver"}), f"seed-{key}", None)
    agent_id = unique("flow-agent")  # action ids are idempotency keys in the shared systems
    register(own_ledger, agent_id)
    with (
        services(isolated, own_ledger, systems),
        enrolled_client(agent_id, isolated) as client,
    ):
        first = client.propose(resource=key, action_type=action_type, idempotency_key="one",
                               parameters={"tier": "gold"}, preconditions={"tier": "silver"})  # fmt: skip
        assert client.wait_for_decision(first, 60).outcome == "require_approval"
        desk(own_ledger, systems).approve(ALICE, first.action_id)
        applied = wait_status(own_ledger, first.action_id, Status.APPLIED)
        assert systems[system].current(ref).fields["tier"] == "gold"
        second = client.propose(resource=key, action_type=action_type, idempotency_key="two",
                                parameters={"tier": "platinum"}, preconditions={"tier": "gold"})  # fmt: skip
        assert client.wait_for_decision(second, 60).outcome == "allow"
        wait_status(own_ledger, second.action_id, Status.APPLIED)
        desk(own_ledger, systems).revoke(ALICE, second.action_id, "wrong tier")
        compensation = action_id(agent_id, compensation_key(second.action_id))
        undone = wait_status(own_ledger, compensation, Status.APPLIED, Status.AWAITING_APPROVAL)
        assert undone.parameters == {"tier": "gold"}
        observed = [
            r
            for r in read_topic(isolated, "observations.v1", until=10**6, timeout_s=10)
            if isinstance(r, ExternalStateObserved) and r.resource == ref
        ]
    versions = [o.external_version for o in observed]
    assert len(versions) == len(set(versions)), "one observation per change"
    assert applied.expected_version is not None
    assert systems[system].current(ref).version in versions


def test_an_agent_cannot_take_the_key_of_a_compensation(
    isolated: Settings, own_ledger: Ledger, systems: Connectors
) -> None:
    """An agent proposes under `compensates:<its action>`: `reserved_key`, every time.

    Before the revocation, and after it with a copy of the undo that differs only in its
    cost, or under the key spelled in capitals. The real undo still runs.
    """
    key = resource("crm", "contact")
    ref = ResourceRef.parse(key)
    systems["crm"].apply(Mutation(ref, Operation.UPSERT, {"tier": "silver"}), f"seed-{key}", None)
    agent_id = unique("grabbing-agent")
    register(own_ledger, agent_id, scopes=["*"])
    with (
        services(isolated, own_ledger, systems),
        enrolled_client(agent_id, isolated) as client,
    ):
        change = client.propose(resource=key, action_type="contact.update", idempotency_key="one",
                                parameters={"tier": "gold"}, preconditions={"tier": "silver"})  # fmt: skip
        assert client.wait_for_decision(change, 60).outcome == "require_approval"
        desk(own_ledger, systems).approve(ALICE, change.action_id)
        wait_status(own_ledger, change.action_id, Status.APPLIED)
        grab = client.propose(resource=key, action_type="contact.update",
                              idempotency_key=compensation_key(change.action_id),
                              parameters={"tier": "bronze"})  # fmt: skip
        refused = client.wait_for_decision(grab, 60)
        assert refused.outcome == "rejected"
        assert refused.reasons[0].code == "reserved_key"
        desk(own_ledger, systems).revoke(ALICE, change.action_id, "wrong tier")
        # the recorded undo itself, but with a cost that policy denies, or the key respelled
        client.propose(resource=key, action_type="contact.update.compensate",
                       idempotency_key=compensation_key(change.action_id),
                       parameters={"tier": "silver"}, estimated_cost=999_999)  # fmt: skip
        client.propose(resource=key, action_type="contact.update.compensate",
                       idempotency_key=f"compensates:{str(change.action_id).upper()}",
                       parameters={"tier": "silver"})  # fmt: skip
        undo = action_id(agent_id, compensation_key(change.action_id))
        undone = wait_status(own_ledger, undo, Status.APPLIED, Status.AWAITING_APPROVAL)
        records = read_topic(isolated, "actions.v1", until=10**9, timeout_s=10)
    assert undone.action_type == "contact.update.compensate"
    assert undone.parameters == {"tier": "silver"}
    assert undone.estimated_cost is None
    reserved = [r for r in records
                if isinstance(r, ProposalRejected) and r.reason.code == "reserved_key"]  # fmt: skip
    assert len(reserved) == 3  # before the revocation, and both copies after it
