"""Both real systems of record through their connectors: one contract suite, then each one's own."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal

import httpx
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from agentledger.bootstrap import build_stack, connectors
from agentledger.credentials import systems_database_url
from agentledger.settings import SYSTEMS_DATABASE, Settings
from domain.values import ResourceRef, Value
from infra.connectors.base import (
    Change,
    Connector,
    ConnectorUnavailable,
    Mutation,
    MutationRefused,
    Operation,
    Snapshot,
    VersionConflict,
)
from infra.connectors.crm_admin import CrmAdmin
from infra.connectors.http_crm import HttpCrm
from infra.connectors.postgres_sor import PostgresSystemOfRecord
from infra.connectors.registry import Connectors, UnknownSystem
from infra.database_roles import BILLING_OWNER
from infra.stack.database import ensure_billing
from infra.stack.saas import probe
from tests.conftest import free_ports, unique
from tests.db_helpers import admin_url

pytestmark = pytest.mark.integration

Edit = Callable[[ResourceRef, dict[str, Value]], Snapshot]


@dataclass(frozen=True)
class System:
    """A connector under test, how a human edits its records, and a type of resource it has."""

    connector: Connector
    edit: Edit
    kind: str

    def new_ref(self) -> ResourceRef:
        """A resource no other test uses."""
        return ResourceRef(system=self.connector.system, type=self.kind, id=unique("r"))


@pytest.fixture(scope="module")
def all_connectors(settings: Settings) -> Iterator[Connectors]:
    """Both connectors, as the composition root builds them."""
    built = connectors(settings)
    yield built
    built.close()


@pytest.fixture
def crm_admin(settings: Settings) -> Iterator[CrmAdmin]:
    """The CRM simulator's admin client."""
    admin = CrmAdmin(settings.crm)
    yield admin
    admin.close()


@pytest.fixture(params=["billing", "crm"])
def system(
    request: pytest.FixtureRequest, all_connectors: Connectors, crm_admin: CrmAdmin
) -> System:
    """Each real system in turn."""
    connector = all_connectors[request.param]
    if isinstance(connector, PostgresSystemOfRecord):
        return System(connector, connector.edit_out_of_band, "invoice")
    return System(connector, crm_admin.edit, "contact")


def upsert(ref: ResourceRef, **fields: Value) -> Mutation:
    """An upsert of ``fields`` on ``ref``."""
    return Mutation(ref, Operation.UPSERT, dict(fields))


def head(connector: Connector) -> int:
    """The newest sequence of the connector's change feed (0 when empty)."""
    since = 0
    while page := connector.changes(since, limit=1000):
        since = page[-1].sequence
    return since


def feed_of(connector: Connector, since: int, ref: ResourceRef) -> list[Change]:
    """Every change of ``ref`` after ``since``."""
    found = []
    while page := connector.changes(since, limit=1000):
        found += [change for change in page if change.resource == ref]
        since = page[-1].sequence
    return found


def test_apply_creates_then_bumps_the_version(system: System) -> None:
    """A first upsert creates the resource, a second merges its fields under a new version."""
    ref, connector = system.new_ref(), system.connector
    created = connector.apply(upsert(ref, name="Ada", amount=Decimal("12.50")), unique("k"), None)
    assert not created.replayed
    assert created.fields == {"name": "Ada", "amount": "12.50"}  # decimals are stored as strings
    updated = connector.apply(upsert(ref, tier="gold"), unique("k"), created.external_version)
    assert int(updated.external_version) > int(created.external_version)
    assert updated.fields == {"name": "Ada", "amount": "12.50", "tier": "gold"}
    assert connector.current(ref) == Snapshot(ref, updated.external_version, updated.fields)


def test_a_float_beyond_64_bit_integers_comes_back_as_that_float(system: System) -> None:
    """1e20 is read back as the float it was, though jsonb writes it as a 21-digit integer.

    An integer that large is no field value: recording the applied fields would fail.
    """
    ref, connector = system.new_ref(), system.connector
    start = head(connector)
    applied = connector.apply(upsert(ref, limit=1e20, floor=-3e19), unique("k"), None)
    current = connector.current(ref)
    (change,) = feed_of(connector, start, ref)
    for fields in (applied.fields, current.fields, change.fields):
        assert fields == {"limit": 1e20, "floor": -3e19}
        assert {type(value) for value in fields.values()} == {float}


def test_repeated_key_returns_the_stored_result_and_changes_nothing(system: System) -> None:
    """Applying again with the same key replays the first result without a second change."""
    ref, connector, key = system.new_ref(), system.connector, unique("k")
    start = head(connector)
    first = connector.apply(upsert(ref, tier="silver"), key, None)
    again = connector.apply(upsert(ref, tier="silver"), key, None)
    assert again.replayed
    assert (again.external_version, again.fields) == (first.external_version, first.fields)
    assert connector.current(ref).version == first.external_version
    assert [change.version for change in feed_of(connector, start, ref)] == [first.external_version]


def test_concurrent_repeats_of_one_key_apply_once(system: System) -> None:
    """Eight simultaneous applies with one key make one change; seven get the replayed result."""
    ref, connector, key = system.new_ref(), system.connector, unique("k")
    start = head(connector)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: connector.apply(upsert(ref, n=1), key, None), range(8)))
    assert sorted(result.replayed for result in results) == [False] + [True] * 7
    assert {result.external_version for result in results} == {results[0].external_version}
    assert len(feed_of(connector, start, ref)) == 1


def test_key_reused_for_another_mutation_is_refused(system: System) -> None:
    """The same key with different fields is a final refusal, and nothing is written."""
    ref, connector, key = system.new_ref(), system.connector, unique("k")
    first = connector.apply(upsert(ref, tier="silver"), key, None)
    with pytest.raises(MutationRefused):
        connector.apply(upsert(ref, tier="gold"), key, None)
    assert connector.current(ref) == Snapshot(ref, first.external_version, {"tier": "silver"})


def test_version_mismatch_is_a_conflict_and_changes_nothing(system: System) -> None:
    """An expected version that is not the current one raises VersionConflict and writes nothing."""
    ref, connector = system.new_ref(), system.connector
    with pytest.raises(VersionConflict) as absent:
        connector.apply(upsert(ref, tier="gold"), unique("k"), "1")
    assert absent.value.actual is None
    created = connector.apply(upsert(ref, tier="silver"), unique("k"), None)
    start, key = head(connector), unique("k")
    with pytest.raises(VersionConflict) as stale:
        connector.apply(upsert(ref, tier="gold"), key, "999")
    assert (stale.value.expected, stale.value.actual) == ("999", created.external_version)
    assert connector.current(ref) == Snapshot(ref, created.external_version, {"tier": "silver"})
    assert feed_of(connector, start, ref) == []
    retried = connector.apply(
        upsert(ref, tier="gold"), key, created.external_version
    )  # key not burnt
    assert not retried.replayed
    assert retried.fields == {"tier": "gold"}


def test_delete_removes_the_resource_and_a_new_upsert_starts_afresh(system: System) -> None:
    """A delete empties the resource under a new version; deleting again is refused; upsert recreates."""
    ref, connector = system.new_ref(), system.connector
    created = connector.apply(upsert(ref, tier="silver", name="Ada"), unique("k"), None)
    start = head(connector)
    deleted = connector.apply(
        Mutation(ref, Operation.DELETE), unique("k"), created.external_version
    )
    assert deleted.fields == {}
    assert int(deleted.external_version) > int(created.external_version)
    assert connector.current(ref) == Snapshot(ref, None, {})
    [change] = feed_of(connector, start, ref)
    assert (change.deleted, change.version, change.fields) == (True, deleted.external_version, {})
    with pytest.raises(MutationRefused):
        connector.apply(Mutation(ref, Operation.DELETE), unique("k"), None)
    again = connector.apply(upsert(ref, tier="gold"), unique("k"), None)
    assert again.fields == {"tier": "gold"}
    assert int(again.external_version) > int(deleted.external_version)


def test_changes_resume_exactly_after_a_sequence(system: System) -> None:
    """changes(since=s) starts with the first change after s, oldest first, at most `limit` of them."""
    ref, connector = system.new_ref(), system.connector
    start = head(connector)
    versions = [
        connector.apply(upsert(ref, n=n), unique("k"), None).external_version for n in range(3)
    ]
    mine = feed_of(connector, start, ref)
    assert [change.version for change in mine] == versions
    assert [change.fields["n"] for change in mine] == [0, 1, 2]
    full = connector.changes(start, limit=1000)
    sequences = [change.sequence for change in full]
    assert sequences == sorted(set(sequences))
    assert all(sequence > start for sequence in sequences)
    resumed = connector.changes(mine[0].sequence, limit=2)
    assert resumed == [change for change in full if change.sequence > mine[0].sequence][:2]


def test_the_feed_head_is_the_last_sequence_its_counter_handed_out(system: System) -> None:
    """Every change read is at or below the head read after it; a new change moves it up."""
    connector = system.connector
    before = connector.feed_head()
    assert before >= head(connector)  # above it only by numbers of writes rolled back
    change = connector.apply(upsert(system.new_ref(), n=1), unique("k"), None)
    after = connector.feed_head()
    assert after > before
    assert [c.sequence for c in connector.changes(before, limit=1000)][-1] == after, change


def test_out_of_band_edit_appears_in_the_change_feed(system: System) -> None:
    """A human's edit, made outside agentledger, bumps the version and shows up in the feed."""
    ref, connector = system.new_ref(), system.connector
    created = connector.apply(upsert(ref, tier="silver"), unique("k"), None)
    start = head(connector)
    edited = system.edit(ref, {"tier": "platinum", "note": "by hand"})
    assert int(str(edited.version)) > int(created.external_version)
    [change] = feed_of(connector, start, ref)
    assert (change.version, change.deleted) == (edited.version, False)
    assert change.fields == {"tier": "platinum", "note": "by hand"}
    assert connector.current(ref) == Snapshot(ref, edited.version, change.fields)


def test_unreachable_system_is_unavailable(settings: Settings) -> None:
    """A system that cannot be reached raises ConnectorUnavailable (retryable), never hangs."""
    [port] = free_ports(1)
    live_pg = systems_database_url(settings)
    dead_pg = live_pg.replace(f":{settings.postgres_port}/", f":{port}/")
    assert dead_pg != live_pg
    for connector in (
        HttpCrm(f"http://127.0.0.1:{port}", timeout_s=2),
        PostgresSystemOfRecord(dead_pg, timeout_s=2),
    ):
        ref = ResourceRef(system=connector.system, type="any", id=unique("r"))
        with pytest.raises(ConnectorUnavailable):
            connector.apply(upsert(ref, a=1), unique("k"), None)
        with pytest.raises(ConnectorUnavailable):
            connector.current(ref)
        connector.close()


def test_connectors_are_found_by_the_system_of_the_resource(all_connectors: Connectors) -> None:
    """Each resource key routes to its system's connector; an unknown system is a clear KeyError."""
    assert set(all_connectors) == {"billing", "crm"}
    invoice = ResourceRef(system="billing", type="invoice", id="inv-1")
    assert all_connectors.for_resource(invoice).system == "billing"
    with pytest.raises(KeyError, match="no connector for system 'erp'") as missing:
        all_connectors.for_resource(ResourceRef(system="erp", type="order", id="o-1"))
    assert isinstance(missing.value, UnknownSystem)
    assert "billing, crm" in str(missing.value)


# --- the CRM simulator -------------------------------------------------------------------


@pytest.fixture
def crm(all_connectors: Connectors) -> HttpCrm:
    """The CRM connector."""
    connector = all_connectors["crm"]
    assert isinstance(connector, HttpCrm)
    return connector


def crm_ref() -> ResourceRef:
    """A CRM contact no other test uses."""
    return ResourceRef(system="crm", type="contact", id=unique("c"))


def test_dropped_writes_answer_success_but_store_nothing(
    settings: Settings, crm: HttpCrm, crm_admin: CrmAdmin
) -> None:
    """With drop-writes on, a PUT answers 200 with a new ETag, yet nothing is stored or fed."""
    ref = crm_ref()
    created = crm.apply(upsert(ref, tier="silver"), unique("k"), None)
    start, key = head(crm), unique("k")
    crm_admin.drop_writes(enabled=True)
    try:
        url = f"{settings.crm}/v1/contact/{ref.id}"
        raw = httpx.put(url, json={"fields": {"tier": "bronze"}}, timeout=5)
        lost = crm.apply(upsert(ref, tier="gold"), key, created.external_version)
    finally:
        crm_admin.drop_writes(enabled=False)
    assert raw.status_code == 200
    assert raw.headers["ETag"] == f'"{int(created.external_version) + 1}"'
    assert (lost.replayed, lost.fields) == (False, {"tier": "gold"})
    assert crm.current(ref) == Snapshot(ref, created.external_version, {"tier": "silver"})
    assert feed_of(crm, start, ref) == []
    assert not crm.apply(upsert(ref, tier="gold"), key, created.external_version).replayed


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"fields": ', 400),
        (b"[1, 2]", 400),
        (b'{"fields": [1]}', 400),
        (b'{"fields": {"a": NaN}}', 400),
        (b'{"fields": {"a": 1e999}}', 400),
        (b"\xff\xfe", 400),
        (b"x" * (1_048_576 + 1), 413),
    ],
)
def test_malformed_body_is_a_problem_response(
    settings: Settings, crm: HttpCrm, body: bytes, status: int
) -> None:
    """A body that is not a fields object, or is over 1 MiB, gets a JSON problem and changes nothing."""
    ref = crm_ref()
    url = f"{settings.crm}/v1/contact/{ref.id}"
    response = httpx.put(url, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == status
    assert crm.current(ref).version is None
    assert probe(settings.crm) is None


def test_simulator_keeps_its_data_across_a_restart(settings: Settings, crm: HttpCrm) -> None:
    """Records and the change feed survive stopping and relaunching the simulator's process."""
    ref = crm_ref()
    start = head(crm)
    applied = crm.apply(upsert(ref, tier="gold"), unique("k"), None)
    component = build_stack(settings, report=print).crm
    try:
        assert component.stop()
        assert component.pid() is None
        assert probe(settings.crm) is not None
    finally:
        component.launch()
        component.await_healthy()
    assert crm.current(ref) == Snapshot(ref, applied.external_version, {"tier": "gold"})
    assert [change.version for change in feed_of(crm, start, ref)] == [applied.external_version]


# --- the PostgreSQL system of record ---------------------------------------------------------


@pytest.fixture
def billing(all_connectors: Connectors) -> PostgresSystemOfRecord:
    """The billing connector."""
    connector = all_connectors["billing"]
    assert isinstance(connector, PostgresSystemOfRecord)
    return connector


def test_manual_sql_update_bumps_the_version_and_is_fed(
    settings: Settings, billing: PostgresSystemOfRecord
) -> None:
    """Any UPDATE typed by hand (by billing's own DBA) bumps the version, even one that tries to set it, and is fed."""
    ref = ResourceRef(system="billing", type="invoice", id=unique("inv"))
    created = billing.apply(upsert(ref, status="open"), unique("k"), None)
    start = head(billing)
    with psycopg.connect(admin_url(settings, SYSTEMS_DATABASE), autocommit=True) as conn:
        where = {"type": ref.type, "id": ref.id}
        conn.execute(
            'UPDATE records SET fields = fields || \'{"status": "void"}\''
            " WHERE type = %(type)s AND id = %(id)s",
            where,
        )
        conn.execute("UPDATE records SET version = 1 WHERE type = %(type)s AND id = %(id)s", where)
    first, second = feed_of(billing, start, ref)
    assert int(first.version) == int(created.external_version) + 1
    assert first.fields == {"status": "void"}
    assert int(second.version) == int(created.external_version) + 2
    assert billing.current(ref) == Snapshot(ref, second.version, {"status": "void"})


def test_stack_provisions_the_systems_database_under_the_billing_systems_own_role(
    settings: Settings,
) -> None:
    """`up` creates the systems-of-record database on the local server, owned by billing's role."""
    role = BILLING_OWNER
    with psycopg.connect(admin_url(settings)) as conn:
        row = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
            (conninfo_to_dict(settings.systems_database)["dbname"],),
        ).fetchone()
    assert row == (role,)


def test_concurrent_provisioning_of_the_billing_schema_never_fails(settings: Settings) -> None:
    """Several deployments provisioning billing at once all succeed (creation is serialised)."""
    failures: list[BaseException] = []
    barrier = threading.Barrier(6)

    def start() -> None:
        try:
            with psycopg.connect(admin_url(settings, SYSTEMS_DATABASE), autocommit=True) as conn:
                barrier.wait()
                ensure_billing(conn)
        except BaseException as exc:  # noqa: BLE001  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
