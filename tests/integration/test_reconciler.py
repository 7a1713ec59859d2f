"""Each drift class from a real scenario: real systems, the real services, the reconciler as a process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from agentledger.bootstrap import actual_reader, connectors, ledger, reconciler_config
from agentledger.client import Client
from agentledger.processes import ObserverThread, ReconcilerProcess, settings_env
from agentledger.services import services
from agentledger.settings import Settings
from domain.action_state import Status
from domain.events import DriftDetected, DriftResolved
from domain.preconditions import parse
from domain.values import ResourceRef
from infra.connectors.base import Mutation, Operation
from infra.connectors.crm_admin import CrmAdmin
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger
from tests.conftest import run_cli, unique
from tests.decider_helpers import register
from tests.drift_helpers import (
    detected,
    fast,
    reconciled_up_to_now,
    resolved,
    running_reconciler,
    unmarked_partitions,
    wait_for,
)
from tests.execution_helpers import ALICE, desk, resource
from tests.kafka_helpers import enrolled_client
from tests.relay_helpers import drop_isolated, isolated_settings
from tests.service_helpers import wait_status

pytestmark = pytest.mark.integration


@dataclass
class World:
    """Everything running: services, observer, reconciler; an agent to act with."""

    settings: Settings
    ledger: Ledger
    systems: Connectors
    client: Client
    observing: ObserverThread
    reconciler: ReconcilerProcess

    def execute(self, key: str, parameters: dict[str, Any], **preconditions: Any) -> UUID:
        """Propose, approve if asked, and wait until applied; the action id."""
        ref = self.client.propose(
            resource=key, action_type="contact.update", idempotency_key=unique("k"),
            parameters=parameters, preconditions=preconditions,
        )  # fmt: skip
        decision = self.client.wait_for_decision(ref, 60)
        if decision.outcome == "require_approval":
            desk(self.ledger, self.systems).approve(ALICE, ref.action_id)
        wait_status(self.ledger, ref.action_id, Status.APPLIED)
        return ref.action_id

    def edit(self, key: str, **fields: Any) -> None:
        """A human changes ``fields`` of the resource in the CRM's admin UI (no action)."""
        admin = CrmAdmin(self.settings.crm)
        try:
            admin.edit(ResourceRef.parse(key), fields)
        finally:
            admin.close()

    def seed(self, key: str, **fields: Any) -> None:
        """Create the resource in its system (nobody governs this first write)."""
        ref = ResourceRef.parse(key)
        self.systems[ref.system].apply(
            Mutation(ref, Operation.UPSERT, fields), unique("seed"), None
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One isolated ledger with every service and the reconciler, for all the scenarios."""
    settings = fast(isolated_settings(Settings()))
    the_ledger, systems = ledger(settings), connectors(settings)
    agent_id = unique("drift-agent")
    register(the_ledger, agent_id)
    observing = ObserverThread(settings, systems)
    log = tmp_path_factory.mktemp("reconciler") / "reconciler.log"
    try:
        with (
            services(settings, the_ledger, systems, observe=False),
            enrolled_client(agent_id, settings) as client,
            running_reconciler(settings, log) as process,
        ):
            observing.start()
            yield World(settings, the_ledger, systems, client, observing, process)
            observing.stop()
    finally:
        the_ledger.close()
        systems.close()
        drop_isolated(settings)


def test_a_human_edit_in_the_saas_is_an_out_of_band_change(world: World) -> None:
    """An admin edit of a governed contact is out_of_band_change with believed and actual values."""
    key = resource("crm", "contact")
    world.seed(key, email="ann@x.io", tier="silver")
    world.execute(key, {"tier": "gold"})
    world.edit(key, tier="bronze")
    records = wait_for(world.settings, lambda r: bool(detected(r, key, "out_of_band_change")))
    [alert] = detected(records, key)
    assert [(f.field, f.believed, f.actual) for f in alert.fields] == [("tier", "gold", "bronze")]
    assert alert.severity == "warning"
    assert alert.contradicts, "the alert links the MutationApplied it contradicts"


def test_a_write_the_saas_silently_drops_is_execution_not_reflected(world: World) -> None:
    """The CRM answers 200 but stores nothing: after the settle window, execution_not_reflected."""
    key = resource("crm", "contact")
    world.seed(key, tier="silver")
    world.execute(key, {"tier": "gold"})
    admin = CrmAdmin(world.settings.crm)
    try:
        admin.drop_writes(enabled=True)
        dropped = world.execute(key, {"tier": "platinum"})
    finally:
        admin.drop_writes(enabled=False)
        admin.close()
    records = wait_for(world.settings, lambda r: bool(detected(r, key, "execution_not_reflected")))
    [alert] = detected(records, key)
    assert str(dropped) in alert.explanation
    assert [(f.field, f.believed, f.actual) for f in alert.fields] == [("tier", "platinum", "gold")]
    assert alert.severity == "critical"


def test_a_revocation_after_execution_is_revoked_but_applied(world: World) -> None:
    """Revoking an applied action raises revoked_but_applied, linking the applied and revoked events."""
    key = resource("crm", "contact")
    world.seed(key, tier="silver")
    world.execute(key, {"tier": "gold"})
    applied = world.execute(key, {"tier": "platinum"})
    desk(world.ledger, world.systems).revoke(ALICE, applied, "wrong tier")
    records = wait_for(world.settings, lambda r: bool(detected(r, key, "revoked_but_applied")))
    [alert] = detected(records, key, "revoked_but_applied")
    assert alert.severity == "critical"
    assert len(alert.contradicts) == 2
    assert [f.field for f in alert.fields] == ["tier"]


def test_a_proposal_against_a_changed_state_is_rejected_and_is_stale_belief(world: World) -> None:
    """The agent believes the old email; the CRM shows another: rejected with the field diff, stale_belief."""
    key = resource("crm", "contact")
    world.seed(key, email="old@x.io")
    world.seed(key, email="new@x.io")
    # the email changed by itself (out of band): once that is reported, the views know it
    wait_for(world.settings, lambda r: bool(detected(r, key, "out_of_band_change")))
    ref = world.client.propose(
        resource=key, action_type="contact.update", idempotency_key=unique("k"),
        parameters={"tier": "gold"}, preconditions={"email": "old@x.io"},
    )  # fmt: skip
    decision = world.client.wait_for_decision(ref, 60)
    assert decision.outcome == "rejected"
    [reason] = decision.reasons
    assert reason.code == "stale_precondition"
    assert parse(reason.message) == {"email": ("old@x.io", "new@x.io")}
    records = wait_for(world.settings, lambda r: bool(detected(r, key, "stale_belief")))
    [alert] = detected(records, key, "stale_belief")
    assert [(f.field, f.believed, f.actual) for f in alert.fields] == [
        ("email", "old@x.io", "new@x.io")
    ]


def test_the_executor_checks_preconditions_again_before_applying(world: World) -> None:
    """Approved against one state, the contact changes before execution: it fails, nothing is written."""
    key = resource("crm", "contact")
    world.seed(key, email="a@x.io", tier="silver")
    wait_for(world.settings, lambda _r: _known(world, key), 30)
    ref = world.client.propose(
        resource=key, action_type="contact.update", idempotency_key=unique("k"),
        parameters={"tier": "gold"}, preconditions={"email": "a@x.io"},
    )  # fmt: skip
    assert world.client.wait_for_decision(ref, 60).outcome == "require_approval"
    world.seed(key, email="b@x.io")
    desk(world.ledger, world.systems).approve(ALICE, ref.action_id)
    action = wait_status(world.ledger, ref.action_id, Status.FAILED, Status.AWAITING_APPROVAL)
    if action.status is Status.AWAITING_APPROVAL:  # the approval went stale first: approve again
        desk(world.ledger, world.systems).approve(ALICE, ref.action_id)
        wait_status(world.ledger, ref.action_id, Status.FAILED)
    ref_ = ResourceRef.parse(key)
    assert world.systems["crm"].current(ref_).fields["tier"] == "silver"
    records = wait_for(world.settings, lambda r: bool(detected(r, key, "stale_belief")))
    assert detected(records, key, "stale_belief")[0].fields[0].actual == "b@x.io"


def _known(world: World, key: str) -> bool:
    """Whether the actual-state view holds ``key`` (the decider can judge preconditions)."""
    return bool(actual_reader(world.settings)([key]))


def test_resources_in_sync_and_ignored_fields_raise_no_alert(world: World) -> None:
    """A governed change that shows up, and an edit of an ignored field, stay silent."""
    key = resource("crm", "contact")
    world.seed(key, tier="silver")
    world.execute(key, {"tier": "gold"})
    world.edit(key, last_seen_at="2026-11-21T10:00:00Z")
    marker = resource("crm", "contact")
    world.seed(marker, tier="silver")
    world.execute(marker, {"tier": "gold"})
    world.edit(marker, tier="bronze")
    records = wait_for(world.settings, lambda r: bool(detected(r, marker)))
    assert detected(records, key) == [], "later drift was judged, this resource stayed silent"


def test_a_stopped_observer_is_observer_stale_until_it_reads_again(world: World) -> None:
    """No feed read for longer than allowed raises observer_stale per system; a read resolves it."""
    stopped_at = datetime.now(UTC)
    world.observing.stop()

    def since_stop(records: list[DriftDetected | DriftResolved]) -> list[DriftDetected]:
        found = detected(records, "crm/observer/feed", "observer_stale")
        return [a for a in found if a.metadata.occurred_at >= stopped_at]

    try:  # an earlier, real gap in the feed may have raised (and resolved) one already
        records = wait_for(world.settings, lambda r: bool(since_stop(r)), 60)
    finally:
        world.observing.start()
    [alert] = since_stop(records)
    records = wait_for(world.settings, lambda r: resolved(r, alert.alert_id), 60)
    assert detected(records, "billing/observer/feed", "observer_stale")


def test_the_drift_view_and_cli_list_open_alerts_by_class(world: World) -> None:
    """`agentledger drift --class` shows the open out-of-band alert from the drift projection; `drift watch` tails."""
    key = resource("crm", "contact")
    world.seed(key, tier="silver")
    world.execute(key, {"tier": "gold"})
    world.edit(key, tier="bronze")
    [alert] = detected(
        wait_for(world.settings, lambda r: bool(detected(r, key, "out_of_band_change"))), key
    )
    env = settings_env(world.settings)
    deadline = time.monotonic() + 30
    listed = run_cli("drift", "--class", "out_of_band_change", "--system", "crm", env=env)
    while key not in listed.stdout and time.monotonic() < deadline:
        time.sleep(0.5)
        listed = run_cli("drift", "--class", "out_of_band_change", "--system", "crm", env=env)
    assert listed.returncode == 0, listed.stderr
    assert key in listed.stdout
    other = run_cli("drift", "--class", "revoked_but_applied", "--system", "crm", env=env)
    assert key not in other.stdout
    watched = run_cli("drift", "watch", "--from-beginning", "--timeout", "10", env=env)
    assert watched.returncode == 0, watched.stderr
    assert f"DETECTED out_of_band_change [warning] {key} {alert.alert_id}" in watched.stdout


def test_alerts_and_states_commit_in_the_transaction_of_the_input_that_caused_them(
    world: World,
) -> None:
    """Alerts and state changes are written by transactional producers, never by a plain one.

    An alert or a changelog record sent outside the transaction that commits its input
    offset is lost if the process dies between that commit and its own send.
    """
    key = resource("crm", "contact")
    world.seed(key, tier="silver")
    world.execute(key, {"tier": "gold"})
    world.edit(key, tier="bronze")
    wait_for(world.settings, lambda r: bool(detected(r, key, "out_of_band_change")))
    partitions = world.settings.partitions
    assert unmarked_partitions(world.settings, world.settings.topic("drift.v1"), partitions) == {}
    changelog = reconciler_config(world.settings).changelog_topic
    assert unmarked_partitions(world.settings, changelog, partitions) == {}


def test_alerts_are_not_lost_when_the_reconciler_is_killed(world: World, tmp_path: Path) -> None:
    """Kill -9 mid-stream and restart: state is restored, every edit gets its alert once (runs last)."""
    keys = [resource("crm", "contact") for _ in range(12)]
    for key in keys:
        world.seed(key, tier="silver")
    deadline = time.monotonic() + 60
    while len(actual_reader(world.settings)(keys)) < len(keys):
        assert time.monotonic() < deadline, "the seeds were not observed"
        time.sleep(0.2)
    reconciled_up_to_now(world.settings)  # the baselines now live only in the changelog
    for index, key in enumerate(keys):
        if index == len(keys) // 2:
            world.reconciler.kill()
        world.edit(key, tier="bronze")
    restarted = ReconcilerProcess(world.settings, tmp_path / "restarted.log")
    try:
        restarted.wait_ready()
        records = wait_for(
            world.settings,
            lambda r: all(detected(r, k, "out_of_band_change") for k in keys),
            90,
        )
    finally:
        restarted.stop()
    for key in keys:
        ids = {a.alert_id for a in detected(records, key)}
        assert len(ids) == 1, f"{key}: one divergence, one alert id (got {ids})"
