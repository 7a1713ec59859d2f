"""Under load, a kill switch or an emergency stop is the last word: nothing new follows it."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError

from agentledger.bootstrap import executor_service, relay, system_context
from agentledger.services import running
from agentledger.settings import Settings
from domain.action_state import Status
from domain.errors import AgentSuspended, EmergencyStop
from domain.events import (
    AgentSuspended as Suspended,
)
from domain.events import (
    Authorized,
    DomainEvent,
    ExecutionDeferred,
    ExecutionStarted,
    FleetStopped,
    MutationApplied,
    PolicyDecided,
)
from domain.events.decisions import DecisionOutcome, Obligations
from infra.connectors.registry import Connectors
from infra.ledger.commands import Commands
from infra.ledger.ledger import Ledger
from tests.decider_helpers import proposal
from tests.execution_helpers import agent, decide, resource

pytestmark = pytest.mark.integration
TIMEOUT_S = 120.0


def _records(the_ledger: Ledger) -> Iterator[DomainEvent]:
    """Every record of the ledger, in notification (commit) order."""
    start = 1
    while True:
        page = the_ledger.recorder.select_notifications(start, 500)
        for notification in page:
            record = getattr(the_ledger.mapper.to_domain_event(notification), "record", None)
            if isinstance(record, DomainEvent):
                yield record
        if len(page) < 500:  # the page size
            return
        start = page[-1].id + 1


def test_no_authorization_or_start_follows_a_suspension_or_a_stop_and_work_resumes_after(
    isolated: Settings, own_ledger: Ledger, systems: Connectors
) -> None:
    """Two agents' actions are authorized and executed flat out; one is suspended, then all stop.

    In commit order, after the suspension nothing of that agent is authorized or started,
    and after the stop nothing of anyone's; authorized actions that had not started wait
    (ExecutionDeferred). Once resumed and reinstated, every authorized action is applied.
    """
    paused, other = agent(own_ledger), agent(own_ledger)
    refused: Counter[str] = Counter()
    done = threading.Event()

    def authorize(agent_id: str) -> None:
        while not done.is_set():
            try:
                decide(own_ledger, agent_id, resource("crm", "contact"),
                       outcome=DecisionOutcome.ALLOW)  # fmt: skip
            except (AgentSuspended, EmergencyStop) as exc:
                refused[type(exc).__name__] += 1
                time.sleep(0.01)
            except IntegrityError:  # a control was recorded as it saved: it runs again
                refused["conflict"] += 1

    the_executor = executor_service(isolated, own_ledger, systems)
    the_relay = relay(isolated, own_ledger)
    writers = [threading.Thread(target=authorize, args=(a,)) for a in (paused, other, other)]
    with running([("the relay", the_relay.run, the_relay.active),
                  ("the executor", the_executor.run, the_executor.ready)]):  # fmt: skip
        for writer in writers:
            writer.start()
        time.sleep(3)
        with own_ledger.batch(system_context()) as tx:
            tx.suspend_agent(paused, reason="load test", by="opal")
        time.sleep(3)
        with own_ledger.batch(system_context()) as tx:
            tx.stop_all(reason="load test", by="opal")
        time.sleep(3)
        done.set()
        for writer in writers:
            writer.join(30)
        records = list(_records(own_ledger))
        with own_ledger.batch(system_context()) as tx:
            tx.resume_all(reason="over", by="opal")
            tx.reinstate_agent(paused, reason="over", by="opal")
        authorized = [r.action_id for r in records if isinstance(r, Authorized)]
        _wait_applied(own_ledger, authorized)
    owner = {r.action_id: r.agent_id for r in records if isinstance(r, PolicyDecided)}
    suspended = next(i for i, r in enumerate(records) if isinstance(r, Suspended))
    stopped = next(i for i, r in enumerate(records) if isinstance(r, FleetStopped))
    starts = (Authorized, ExecutionStarted)
    after_suspension = [r for r in records[suspended:] if isinstance(r, starts)
                        and owner[r.action_id] == paused]  # fmt: skip
    after_stop = [r for r in records[stopped:] if isinstance(r, starts)]
    assert after_suspension == []
    assert after_stop == []
    assert refused["AgentSuspended"] > 0
    assert refused["EmergencyStop"] > 0
    assert sum(isinstance(r, ExecutionDeferred) for r in records) > 0, "nothing was left waiting"
    assert sum(isinstance(r, Authorized) and owner[r.action_id] == paused for r in records) > 0


def _wait_applied(the_ledger: Ledger, actions: list[UUID]) -> None:
    """Until every action in ``actions`` is applied (they all were authorized)."""
    deadline = time.monotonic() + TIMEOUT_S
    left = set(actions)
    while left and time.monotonic() < deadline:
        loaded = the_ledger.load_many(left)
        left = {aid for aid, action in loaded.items() if action.status is not Status.APPLIED}
        time.sleep(0.5)
    applied = sum(1 for r in _records(the_ledger) if isinstance(r, MutationApplied))
    stuck = {aid: [type(getattr(e, "record", e)).__name__ for e in the_ledger.events.get(aid)]
             for aid in sorted(left)[:3]}  # fmt: skip
    assert not left, f"{len(left)} authorized actions never applied ({applied} applied): {stuck}"


def _allow(
    tx: Commands, agent_id: str, key: str, outcome: DecisionOutcome = DecisionOutcome.ALLOW
) -> UUID:
    aid, _ = tx.propose(proposal(agent_id, key))
    tx.decide(aid, outcome=outcome, reasons=[], obligations=_ONE,
              bundle_digest="b" * 64, bundle_version="t", input_digest="i" * 64,
              effect="update")  # fmt: skip
    return aid


_ONE = Obligations(approvals_required=1, approver_roles=[], approval_ttl_seconds=60, extra={})


@pytest.mark.parametrize(
    ("control", "outcome"),
    [("suspend", DecisionOutcome.ALLOW), ("stop", DecisionOutcome.ALLOW),
     ("suspend", DecisionOutcome.REQUIRE_APPROVAL), ("scopes", DecisionOutcome.ALLOW),
     ("revoke key", DecisionOutcome.ALLOW)],
)  # fmt: skip
def test_a_control_committed_while_a_batch_authorizes_refuses_that_batch(
    own_ledger: Ledger, control: str, outcome: DecisionOutcome
) -> None:
    """The batch read the agent active and the fleet running; a control commits before it does.

    Its save is refused as a conflict (it runs again and sees the control), so no
    authorization is ever committed after the control that forbids it; nothing of the
    refused save is kept, its side tables' rows (the approval request) included.
    """
    agent_id = agent(own_ledger)
    with (  # noqa: PT012  # the race spans both batches
        pytest.raises(IntegrityError, match="a control of"),
        own_ledger.batch(system_context()) as tx,
    ):
        aid = _allow(tx, agent_id, "raced", outcome)
        with own_ledger.batch(system_context()) as meanwhile:
            _pull(meanwhile, control, agent_id)
    assert aid not in own_ledger.load_many([aid])
    assert own_ledger.approvals is not None
    assert own_ledger.approvals.get(aid) is None
    if control not in {"suspend", "stop"}:
        return  # scopes and keys are the decider's to check, before it decides
    refused = AgentSuspended if control == "suspend" else EmergencyStop
    with pytest.raises(refused), own_ledger.batch(system_context()) as tx:
        _allow(tx, agent_id, "again")


def _pull(tx: Commands, control: str, agent_id: str) -> None:
    """Record the control named ``control`` on the agent (or the fleet)."""
    if control == "suspend":
        tx.suspend_agent(agent_id, reason="now", by="opal")
    elif control == "stop":
        tx.stop_all(reason="now", by="opal")
    elif control == "scopes":
        tx.change_scopes(agent_id, scopes=[], by="opal", reason="now")
    else:
        key = next(iter(tx.agent(agent_id).keys))
        tx.revoke_key(agent_id, key=key, reason="now", by="opal")


def test_a_stop_committed_while_an_executor_starts_refuses_the_start(
    own_ledger: Ledger,
) -> None:
    """ExecutionStarted read the fleet running; the stop commits first: the start is refused."""
    agent_id = agent(own_ledger)
    with own_ledger.batch(system_context()) as tx:
        aid = _allow(tx, agent_id, "to-start")
    with (  # noqa: PT012  # the race spans both batches
        pytest.raises(IntegrityError, match="a control of fleet"),
        own_ledger.batch(system_context()) as tx,
    ):
        tx.start_execution(aid, executor="e", resource_version=None)
        with own_ledger.batch(system_context()) as meanwhile:
            meanwhile.stop_all(reason="now", by="opal")
    assert own_ledger.load_many([aid])[aid].status is Status.AUTHORIZED
    assert own_ledger.executions is not None
    assert aid not in {row.action_id for row in own_ledger.executions.in_flight()}
