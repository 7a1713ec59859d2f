"""An agent that restarts asks the ledger what it already proposed, and resumes from there."""

from __future__ import annotations

import time

import pytest

from agentledger.client import Client, Known
from agentledger.settings import Settings
from infra.ledger.ledger import Ledger
from tests.decider_helpers import register, running
from tests.kafka_helpers import enrolled_client

pytestmark = pytest.mark.integration
PLAN = "plan-7/quarterly review & more"  # any text: it travels as a query parameter


def _plan(client: Client, count: int) -> list[Known]:
    """The plan once the timeline view shows ``count`` actions of it (it follows the topic)."""
    deadline = time.monotonic() + 30
    found = client.plan(PLAN)
    while len(found) < count and time.monotonic() < deadline:
        time.sleep(0.2)
        found = client.plan(PLAN)
    return found


def test_a_restarted_agent_finds_what_it_proposed_by_plan_and_by_key(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """Two steps of three proposed, one rejected, then a restart: the new client knows which.

    By plan: the two actions, in order, with their status. By key: each step's status,
    the rejection with its reason, and nothing for the step never proposed.
    """
    register(own_ledger, "resumer")
    with running(isolated, own_ledger):
        with enrolled_client("resumer", isolated) as before:
            for key in ("step-1", "step-2"):
                ref = before.propose(resource=f"crm/contact/{key}", action_type="contact.update",
                                     idempotency_key=key, plan_id=PLAN)  # fmt: skip
                before.wait_for_decision(ref, 60)
            bad = before.propose(resource="crm/contact/x", action_type="contact.archive.delete",
                                 idempotency_key="step-bad", plan_id=PLAN)  # fmt: skip
            before.wait_for_decision(bad, 60)
        with Client("resumer", isolated) as after:  # remembers nothing of the first
            planned = _plan(after, 2)
            first, rejected, never = (after.known(k) for k in ("step-1", "step-bad", "step-3"))
    assert [(p.idempotency_key, p.status) for p in planned] == [
        ("step-1", "awaiting_approval"), ("step-2", "awaiting_approval"),
    ]  # fmt: skip
    assert first is not None
    assert first.status == "awaiting_approval"
    assert rejected is not None
    assert (rejected.status, rejected.reasons[0].code) == ("rejected", "unknown_action_type")
    assert never is None
