"""The executor's hold is what the last try of its save recorded, never an earlier try's."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from agentledger.bootstrap import catalog, system_context
from domain.events.decisions import DecisionOutcome
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger
from tests.execution_helpers import agent, decide, event_names, executor, resource

pytestmark = pytest.mark.unit


def test_a_hold_refused_because_the_agent_was_reinstated_meanwhile_is_no_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reinstatement lands between the hold's read and its save: no hold is reported.

    The first save conflicts; the retry finds no hold. The action is not reported held
    (that would leave it stranded, with no row to pick it up again), so it is executed.
    """
    ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"}, catalog())
    agent_id = agent(ledger)
    aid = decide(ledger, agent_id, resource("crm", "contact"), outcome=DecisionOutcome.ALLOW)
    with ledger.batch(system_context()) as tx:
        tx.suspend_agent(agent_id, reason="runaway", by="opal")
    save = ledger.save
    raced: list[bool] = []

    def reinstated_meanwhile(*aggregates: Any, **options: Any) -> Any:  # Ledger.save's
        if not raced and options.get("controls_seen"):
            raced.append(True)
            with ledger.batch(system_context()) as tx:
                tx.reinstate_agent(agent_id, reason="fixed", by="opal")
            raise IntegrityError("a control of the agent was recorded meanwhile")  # the recorder's
        return save(*aggregates, **options)

    monkeypatch.setattr(ledger, "save", reinstated_meanwhile)
    assert executor(ledger, Connectors({}))._held(aid) is False  # noqa: SLF001  # the step itself
    assert raced == [True]
    assert "ExecutionDeferred" not in event_names(ledger, aid)
