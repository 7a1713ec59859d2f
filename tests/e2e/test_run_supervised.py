"""`agentledger run`: every service supervised, one endpoint, scraped by a real Prometheus."""

from __future__ import annotations

import json
import os
import secrets
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Producer

from agentledger.approver_client import ApproverClient
from agentledger.bootstrap import connectors, ledger
from agentledger.client import ActionRef, Client
from agentledger.settings import Settings
from domain.values import ResourceRef
from infra.connectors.base import Mutation, Operation
from tests.conftest import free_ports
from tests.db_helpers import admin_url
from tests.execution_helpers import event_names
from tests.kafka_helpers import as_operator, enrolled_client
from tests.run_helpers import Prometheus, SupervisedRun, ledger_with_agent

pytestmark = pytest.mark.e2e
AGENT = f"runner-{uuid.uuid4().hex[:8]}"
TOKEN = secrets.token_urlsafe(24)
APPROVERS = json.dumps({TOKEN: {"name": "rita", "roles": ["reviewer"]}})


@pytest.fixture(scope="module")
def mine(settings: Settings) -> Iterator[Settings]:
    """A ledger and topics of this module's own, with an agent allowed to change contacts."""
    with ledger_with_agent(settings, AGENT) as isolated:
        yield isolated


@pytest.fixture(scope="module")
def run(mine: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SupervisedRun]:
    """Every service under one `agentledger run`, ready."""
    supervised = SupervisedRun(
        mine, tmp_path_factory.mktemp("run"), env={"AGENTLEDGER_APPROVERS": APPROVERS}
    )
    try:
        supervised.wait_ready()
        yield supervised
    finally:
        supervised.stop()


@pytest.fixture(scope="module")
def agent(mine: Settings) -> Iterator[Client]:
    """The module's agent, through the SDK."""
    with enrolled_client(AGENT, mine) as client:
        yield client


def _contacts(settings: Settings, count: int) -> list[ResourceRef]:
    """``count`` contacts that exist in the CRM simulator."""
    systems = connectors(settings)
    refs = [ResourceRef(system="crm", type="contact", id=f"run-{uuid.uuid4().hex[:10]}")
            for _ in range(count)]  # fmt: skip
    try:
        for ref in refs:
            systems["crm"].apply(
                Mutation(ref, Operation.UPSERT, {"name": "Ada"}), f"s-{ref.id}", None
            )
    finally:
        systems.close()
    return refs


def _propose(agent: Client, contacts: list[ResourceRef]) -> list[ActionRef]:
    return [
        agent.propose(resource=ref, action_type="contact.update", idempotency_key=ref.id,
                      parameters={"phone": "555 0100"}, estimated_cost=1)
        for ref in contacts
    ]  # fmt: skip


def _approve(settings: Settings, agent: Client, refs: list[ActionRef], timeout_s: float) -> None:
    """Each proposal asks a reviewer (the agent's first change of the contact); approve it."""
    _wait_for_approval_requests(agent, refs, timeout_s)
    with closing(ApproverClient(settings.api, TOKEN)) as desk:
        for ref in refs:
            desk.decide("approve", ref.action_id, {})


def _wait_for_approval_requests(agent: Client, refs: list[ActionRef], timeout_s: float) -> None:
    for ref in refs:
        assert agent.wait_for_decision(ref, timeout_s).outcome == "require_approval"


def _applied_per_action(
    settings: Settings, refs: list[ActionRef], timeout_s: float
) -> dict[str, int]:
    """MutationApplied events per action, once every action has one (or the time is up)."""
    the_ledger = ledger(settings)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            counts = {str(ref.action_id): event_names(the_ledger, ref.action_id).count("MutationApplied")
                      for ref in refs}  # fmt: skip
            if all(counts.values()) or time.monotonic() > deadline:
                return counts
            time.sleep(0.5)
    finally:
        the_ledger.close()


def _decisions(settings: Settings, refs: list[ActionRef]) -> tuple[int, int]:
    """(decisions recorded, distinct actions decided) among ``refs``."""
    table = f"{settings.ledger_name.lower()}_decisions"
    with psycopg.connect(admin_url(settings)) as conn:
        row = conn.execute(
            f"SELECT count(*), count(DISTINCT action_id) FROM {table}"
            " WHERE action_id = ANY(%s)", ([ref.action_id for ref in refs],),
        ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0]), int(row[1])


def test_prometheus_scrapes_every_service_and_the_series_move_with_work(
    run: SupervisedRun, mine: Settings, agent: Client, tmp_path: Path
) -> None:
    """A real Prometheus scraping the run's endpoint sees every service up and ready.

    After proposals are decided and applied and one unreadable record is dead-lettered,
    the proposal, decision, policy, execution, connector and dead-letter series moved.
    """
    prometheus = Prometheus(f"127.0.0.1:{run.port}", tmp_path)
    try:
        ready = prometheus.wait_for("count(agentledger_service_ready == 1) == 8")
        assert ready
        before = prometheus.query("sum(agentledger_proposals_total)")
        assert before == [] or before[0][1] == 0
        contacts = _contacts(mine, 5)
        refs = _propose(agent, contacts)
        _wait_for_approval_requests(agent, refs, 60)
        prometheus.wait_for("agentledger_approvals_pending == 5")
        _approve(mine, agent, refs, 60)
        assert set(_applied_per_action(mine, refs, 60).values()) == {1}
        prometheus.wait_for("agentledger_approvals_pending == 0")
        prometheus.wait_for('agentledger_consumer_lag{service="decider"} >= 0')
        prometheus.wait_for('agentledger_consumer_lag{service="projector"} >= 0')
        prometheus.wait_for('agentledger_consumer_lag{service="reconciler"} >= 0')
        prometheus.wait_for("agentledger_relay_lag >= 0")
        systems = connectors(mine)
        try:  # a person edits a contact in the CRM itself: drift the reconciler reports
            edit = Mutation(contacts[0], Operation.UPSERT, {"phone": "555 0199"})
            systems["crm"].apply(edit, f"by-hand-{uuid.uuid4().hex}", None)
        finally:
            systems.close()
        prometheus.wait_for("sum(agentledger_drift_alerts_open) >= 1", timeout_s=120)
        producer = Producer(as_operator(mine))
        producer.produce(mine.topic("proposals.v1"), b"not avro at all", b"junk")
        assert producer.flush(30) == 0
        expected = {
            'agentledger_proposals_total{outcome="require_approval"}': 5,
            'agentledger_approvals_total{result="requested"}': 5,
            'agentledger_approvals_total{result="approved"}': 5,
            "agentledger_time_to_approve_seconds_count": 5,
            "agentledger_decision_seconds_count": 5,
            "agentledger_policy_evaluation_seconds_count": 5,
            'agentledger_executions_total{result="applied"}': 5,
            'agentledger_connector_seconds_count{system="crm"}': 5,
            'agentledger_dead_letters_total{reason="not_confluent_avro"}': 1,
        }
        for series, least in expected.items():
            prometheus.wait_for(f"sum({series}) >= {least}")
        # each counted once, however often its batch was tried
        # (the observer may dead-letter oversized changes other tests left in the billing feed)
        junk = 'agentledger_dead_letters_total{reason="not_confluent_avro"}'
        counted = prometheus.query(f"sum({junk})")[0][1]
        assert counted == 1, "one unreadable record is one dead letter"
        assert prometheus.query("sum(agentledger_proposals_total)")[0][1] == 5
    finally:
        prometheus.stop()


def test_children_killed_with_sigkill_are_restarted_and_nothing_is_lost_or_done_twice(
    run: SupervisedRun, mine: Settings, agent: Client
) -> None:
    """Kill -9 the decider, then the executor, while proposals flow: both come back.

    Every proposal is decided once, every action applied once, and the restarts counted.
    """
    first = _propose(agent, _contacts(mine, 10))
    os.kill(run.pid("decider"), signal.SIGKILL)
    second = _propose(agent, _contacts(mine, 10))
    os.kill(run.pid("executor"), signal.SIGKILL)
    third = _propose(agent, _contacts(mine, 10))
    refs = first + second + third
    _approve(mine, agent, refs, 120)
    applied = _applied_per_action(mine, refs, 120)
    assert (len(applied), set(applied.values())) == (30, {1}), run.tail()
    assert _decisions(mine, refs) == (30, 30)
    assert run.metric('agentledger_service_restarts_total{service="decider"}') >= 1
    assert run.metric('agentledger_service_restarts_total{service="executor"}') >= 1
    assert run.wait_ready()["ready"]


def test_sigterm_stops_every_child_and_each_json_log_line_names_its_service(
    mine: Settings, tmp_path: Path
) -> None:
    """A run of two services stops cleanly on SIGTERM: exit 0, no child left behind.

    Its output is not a terminal, so the children wrote JSON lines, each with its service.
    """
    own_api = mine.model_copy(update={"api_port": free_ports(1)[0]})
    supervised = SupervisedRun(own_api, tmp_path, ["expirer", "api"])
    try:
        supervised.wait_ready()
        children = [supervised.pid(name) for name in ("expirer", "api", "endpoint")]
    finally:
        code = supervised.stop()
    assert code == 0, supervised.tail()
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    lines = [json.loads(x) for x in supervised.log.read_text().splitlines() if x.startswith("{")]
    assert {"expirer", "api", "endpoint"} <= {line["service"] for line in lines}
    assert any(line["logger"].startswith("uvicorn") for line in lines if line["service"] == "api")


def test_a_second_run_stands_by_and_is_ready_while_the_first_works(
    run: SupervisedRun, mine: Settings, tmp_path: Path
) -> None:
    """A second relay and executor (another run, as on another host) stand by, ready.

    /readyz answers 200, and the second relay's log says it waits for the ledger's lock.
    """
    second = SupervisedRun(mine, tmp_path, ["relay", "executor"])
    try:
        assert second.wait_ready()["services"] == {"relay": "ready", "executor": "ready"}
        assert run.wait_ready()["ready"]
        lines = [json.loads(x) for x in second.log.read_text().splitlines() if x.startswith("{")]
        relay = [line["message"] for line in lines if line["service"] == "relay"]
        assert any("standby" in message for message in relay)
        assert not any(message.startswith("relay active") for message in relay)
    finally:
        assert second.stop() == 0
