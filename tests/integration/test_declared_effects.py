"""The executor carries out the effect the action catalog declared, never one read from a name."""

from __future__ import annotations

import pytest

from consumers.executor.executor import Outcome
from domain.events import MutationFailed
from domain.events.decisions import DecisionOutcome
from domain.values import ResourceRef
from infra.connectors.base import Mutation, Operation
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger
from tests.execution_helpers import agent, decide, event_names, executor, resource

pytestmark = pytest.mark.integration


def test_an_effect_the_connector_cannot_carry_out_is_refused_and_nothing_is_written(
    own_ledger: Ledger, systems: Connectors
) -> None:
    """email.send is declared with the effect "send": no upsert of its parameters happens."""
    key = resource("crm", "contact")
    aid = decide(own_ledger, agent(own_ledger), key, outcome=DecisionOutcome.ALLOW,
                 action_type="email.send", effect="send", parameters={"subject": "hello"})  # fmt: skip
    assert executor(own_ledger, systems).execute(aid) is Outcome.FAILED
    assert systems["crm"].current(ResourceRef.parse(key)).version is None
    records = [getattr(event, "record", None) for event in own_ledger.events.get(aid)]
    failed = [record for record in records if isinstance(record, MutationFailed)]
    assert len(failed) == 1
    assert "decided with the effect 'send'" in failed[0].error
    assert failed[0].retryable is False


def test_a_declared_delete_deletes_whatever_its_name(
    own_ledger: Ledger, systems: Connectors
) -> None:
    """The effect decides: an action named like an update but declared a delete deletes."""
    key = resource("crm", "contact")
    ref = ResourceRef.parse(key)
    systems["crm"].apply(Mutation(ref, Operation.UPSERT, {"name": "Ada"}), f"seed-{key}", None)
    aid = decide(own_ledger, agent(own_ledger), key, outcome=DecisionOutcome.ALLOW,
                 action_type="contact.update", effect="delete", parameters={})  # fmt: skip
    assert executor(own_ledger, systems).execute(aid) is Outcome.APPLIED
    assert systems["crm"].current(ref).version is None
    assert "MutationApplied" in event_names(own_ledger, aid)
