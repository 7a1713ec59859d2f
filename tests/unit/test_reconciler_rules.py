"""The reconciler's judgement, record by record, with the real drift rules of the bundle."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from consumers.reconciler.rules import Reconciler, Source, Windows, feed_key
from consumers.reconciler.verdicts import DriftRules
from domain.events import (
    ActionProposed,
    ChangeFeedChecked,
    CompensationProposed,
    DomainEvent,
    DriftDetected,
    DriftResolved,
    ExecutionStarted,
    ExternalStateObserved,
    MutationApplied,
    ProposalRejected,
    Revoked,
)
from domain.ids import action_id
from domain.preconditions import describe
from infra.partitioner import partition_for
from infra.policy.bundle import load_bundle
from infra.policy.engine import PolicyEngine

ENGINE = PolicyEngine(load_bundle(Path(__file__).parents[2] / "policies"))
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONTACT = {"system": "crm", "type": "contact", "id": "7"}
PARTITIONS = 4


@dataclass
class World:
    """A reconciler over a dict, fed with records at controlled times."""

    store: dict[bytes, bytes] = field(default_factory=dict)
    offsets: Any = field(default_factory=itertools.count)
    sequence: Any = field(default_factory=lambda: itertools.count(1))
    sent: list[DomainEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        """One reconciler with a 5 s settle window and a 30 s staleness limit."""
        self.reconciler = _over(self.store)

    def feed(
        self, record: Any, topic: str = "actions.v1", offset: int | None = None
    ) -> list[DomainEvent]:
        """Apply ``record`` at the next offset (or ``offset``) of partition 0 of ``topic``."""
        position = next(self.offsets) if offset is None else offset
        out = [e for _, e in self.reconciler.handle(Source(topic, 0, position), record)]
        self.sent += out
        return out

    def tick(self, at: datetime) -> list[DomainEvent]:
        """A tick on every partition at ``at``."""
        out: list[DomainEvent] = []
        ms = int(at.timestamp() * 1000)
        for partition in range(PARTITIONS):
            source = Source("ticks", partition, next(self.offsets))
            out += [e for _, e in self.reconciler.tick(source, ms)]
        self.sent += out
        return out

    def observe(self, at: datetime, **fields: Any) -> list[DomainEvent]:
        """The CRM shows ``fields`` for the contact at ``at``."""
        sequence = next(self.sequence)
        return self.feed(ExternalStateObserved.model_validate({
            "metadata": _meta(at), "resource": CONTACT, "external_version": str(sequence),
            "fields": fields, "observed_at": at, "source": "crm", "change_sequence": sequence,
            "deleted": False,
        }), "observations.v1")  # fmt: skip

    def read_feed(self, at: datetime) -> None:
        """The observer read the CRM feed at ``at`` (on every partition)."""
        for partition in range(PARTITIONS):
            record = ChangeFeedChecked.model_validate(
                {"metadata": _meta(at), "source": "crm", "sequence": 0, "read_at": at}
            )
            source = Source("observations.v1", partition, next(self.offsets))
            self.sent += [e for _, e in self.reconciler.handle(source, record)]

    def apply(self, at: datetime, aid: UUID, **fields: Any) -> list[DomainEvent]:
        """Our executor started and applied ``fields`` with action ``aid``."""
        self.feed(ExecutionStarted.model_validate({
            "metadata": _meta(at), "action_id": aid, "resource": CONTACT, "attempt": 1,
            "idempotency_key": str(aid), "executor": "x",
        }))  # fmt: skip
        return self.feed(MutationApplied.model_validate({
            "metadata": _meta(at), "action_id": aid, "resource": CONTACT, "attempt": 1,
            "external_version": "v-ours", "applied_fields": fields,
        }))  # fmt: skip


def _over(store: dict[bytes, bytes]) -> Reconciler:
    """A reconciler over ``store`` with a 5 s settle window and a 30 s staleness limit."""
    return Reconciler(
        store, DriftRules(ENGINE.query), Windows(5000, 30_000),
        lambda key: partition_for(key, PARTITIONS),
    )  # fmt: skip


def _meta(at: datetime) -> dict[str, Any]:
    return {"event_id": uuid4(), "correlation_id": uuid4(), "occurred_at": at}


def _s(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _detected(events: list[DomainEvent]) -> list[DriftDetected]:
    return [e for e in events if isinstance(e, DriftDetected)]


def _resolved(events: list[DomainEvent]) -> list[DriftResolved]:
    return [e for e in events if isinstance(e, DriftResolved)]


def test_a_resource_in_sync_raises_no_alert() -> None:
    """Our change, then an observation showing it, then quiet: nothing is reported."""
    world = World()
    world.observe(_s(0), email="a@x.io", name="Ann")
    world.apply(_s(1), uuid4(), email="b@x.io")
    world.observe(_s(1.5), email="b@x.io", name="Ann")
    world.read_feed(_s(20))
    assert world.tick(_s(20)) == []
    assert world.sent == []


def test_an_applied_change_the_system_never_shows_is_execution_not_reflected() -> None:
    """After the settle window, with the feed read past the apply, the old value is drift."""
    world = World()
    world.observe(_s(0), email="a@x.io")
    aid = uuid4()
    world.apply(_s(1), aid, email="b@x.io")
    world.read_feed(_s(3))
    assert world.tick(_s(3)) == []
    world.read_feed(_s(7))
    [alert] = _detected(world.tick(_s(7)))
    assert alert.drift_class == "execution_not_reflected"
    assert alert.severity == "critical"
    assert [(f.field, f.believed, f.actual) for f in alert.fields] == [
        ("email", "b@x.io", "a@x.io")
    ]
    assert str(aid) in alert.explanation
    assert world.tick(_s(9)) == []


@pytest.mark.parametrize("restored", [False, True])
def test_a_state_restored_from_the_changelog_is_judged_as_restored(restored: bool) -> None:  # noqa: FBT001  # parametrized
    """States are kept decoded between inputs, but never in place of what the store holds.

    Restored (as from the changelog) to its bytes from before our apply, the contact is
    judged from those bytes: no apply to be reflected, so no alert. Not restored, the
    same inputs raise ``execution_not_reflected``.
    """
    world = World()
    world.observe(_s(0), email="a@x.io")
    key = b"crm/contact/7"
    before = bytes(bytearray(world.store[key]))  # equal bytes, another object
    world.apply(_s(1), uuid4(), email="b@x.io")
    if restored:
        world.store[key] = before
    world.read_feed(_s(7))
    alerts = _detected(world.tick(_s(7)))
    assert [a.drift_class for a in alerts] == ([] if restored else ["execution_not_reflected"])


def test_no_verdict_on_an_unreflected_change_while_the_feed_is_not_read() -> None:
    """Without a feed read after the apply the verdict waits; a silent feed is observer_stale."""
    world = World()
    world.read_feed(_s(0))
    world.observe(_s(0), email="a@x.io")
    world.apply(_s(1), uuid4(), email="b@x.io")
    assert world.tick(_s(10)) == []
    [stale] = _detected(world.tick(_s(31)))
    assert stale.drift_class == "observer_stale"
    assert stale.resource.key == "crm/observer/feed"
    world.read_feed(_s(32))
    [resolved] = _resolved(world.sent)
    assert resolved.alert_id == stale.alert_id


def test_an_edit_without_an_action_is_out_of_band_and_resolves_when_reverted() -> None:
    """A managed field changing by itself is reported after the settle window; reverting closes it."""
    world = World()
    world.observe(_s(0), email="a@x.io", name="Ann")
    world.observe(_s(1), email="evil@x.io", name="Ann")
    assert world.tick(_s(3)) == []
    [alert] = _detected(world.tick(_s(6.5)))
    assert alert.drift_class == "out_of_band_change"
    assert [(f.field, f.before, f.actual) for f in alert.fields] == [
        ("email", "a@x.io", "evil@x.io")
    ]
    world.observe(_s(10), email="a@x.io", name="Ann")
    [resolved] = _resolved(world.tick(_s(16)))
    assert resolved.alert_id == alert.alert_id


def test_a_flapping_field_is_reported_once() -> None:
    """A field flipping back and forth keeps one alert open until it settles in sync."""
    world = World()
    world.observe(_s(0), email="a@x.io")
    for second in range(1, 40, 2):
        world.observe(_s(second), email="b@x.io" if second % 4 == 1 else "a@x.io")
        world.tick(_s(second + 1))
    world.observe(_s(40), email="b@x.io")
    world.tick(_s(46))
    assert len(_detected(world.sent)) == 1


def test_ignored_and_unowned_fields_raise_no_alert() -> None:
    """``updated_at`` is ignored everywhere and ``notes`` is not a field agentledger owns."""
    world = World()
    world.observe(_s(0), email="a@x.io", updated_at="t0", notes="x")
    world.observe(_s(1), email="a@x.io", updated_at="t1", notes="y")
    assert world.tick(_s(10)) == []


def test_revocation_after_apply_is_revoked_but_applied_until_compensated() -> None:
    """Revoked after MutationApplied opens a critical alert; the compensation's apply closes it."""
    world = World()
    world.observe(_s(0), email="a@x.io")
    aid, undo = uuid4(), uuid4()
    world.apply(_s(1), aid, email="b@x.io")
    [alert] = _detected(world.feed(Revoked.model_validate({
        "metadata": _meta(_s(2)), "action_id": aid, "resource": CONTACT, "revoked_by": "bob",
        "reason": "wrong", "after_execution": True,
    })))  # fmt: skip
    assert (alert.drift_class, alert.severity) == ("revoked_but_applied", "critical")
    world.feed(CompensationProposed.model_validate({
        "metadata": _meta(_s(2)), "action_id": undo, "agent_id": "a", "resource": CONTACT,
        "compensates_action_id": aid, "action_type": "contact.update.compensate",
        "parameters": {"email": "a@x.io"}, "reason": "revoked",
    }))  # fmt: skip
    [resolved] = _resolved(world.apply(_s(3), undo, email="a@x.io"))
    assert resolved.alert_id == alert.alert_id


def test_a_proposal_against_a_changed_state_is_stale_belief() -> None:
    """Preconditions that differ from the observation raise stale_belief with both values."""
    world = World()
    world.observe(_s(0), email="now@x.io")
    proposed = ActionProposed.model_validate({
        "metadata": _meta(_s(1)), "agent_id": "bot", "idempotency_key": "k",
        "resource": CONTACT, "action_type": "contact.update", "parameters": {"email": "z@x.io"},
        "preconditions": {"email": "then@x.io"}, "confidence": 0.9,
    })  # fmt: skip
    [alert] = _detected(world.feed(proposed))
    assert alert.drift_class == "stale_belief"
    assert [(f.field, f.believed, f.actual) for f in alert.fields] == [
        ("email", "then@x.io", "now@x.io")
    ]
    fresh = proposed.model_copy(
        update={"idempotency_key": "k2", "preconditions": {"email": "now@x.io"}}
    )
    [resolved] = _resolved(world.feed(fresh))
    assert resolved.alert_id == alert.alert_id


def test_a_stale_precondition_rejection_is_stale_belief() -> None:
    """The decider's rejection names the difference; the reconciler turns it into the alert."""
    world = World()
    aid = action_id("bot", "k")
    [alert] = _detected(world.feed(ProposalRejected.model_validate({
        "metadata": _meta(_s(1)), "action_id": aid, "agent_id": "bot", "resource": CONTACT,
        "reason": {"code": "stale_precondition",
                   "message": describe({"email": ("then@x.io", "now@x.io")})},
    })))  # fmt: skip
    assert alert.drift_class == "stale_belief"
    assert alert.fields[0].actual == "now@x.io"


def test_a_redelivered_record_changes_nothing_and_sends_the_same_alerts() -> None:
    """Seen again at the same offset, a record repeats the alerts it caused, with the same ids."""
    world = World()
    world.observe(_s(0), email="now@x.io")
    proposed = ActionProposed.model_validate({
        "metadata": _meta(_s(1)), "agent_id": "bot", "idempotency_key": "k",
        "resource": CONTACT, "action_type": "contact.update", "parameters": {},
        "preconditions": {"email": "then@x.io"}, "confidence": 0.9,
    })  # fmt: skip
    first = world.feed(proposed, offset=100)
    state = world.store[b"crm/contact/7"]
    again = world.feed(proposed, offset=100)
    assert [e.model_dump() for e in again] == [e.model_dump() for e in first]
    assert world.store[b"crm/contact/7"] == state


def _restarted_while_an_edit_waits() -> tuple[World, Reconciler, int]:
    """An out-of-band edit in its settle window, then a new reconciler over the same store."""
    world = World()
    world.observe(_s(0), email="a@x.io")
    world.observe(_s(1), email="b@x.io")
    return world, _over(world.store), partition_for(b"crm/contact/7", PARTITIONS)


def test_a_restarted_reconciler_finds_waiting_resources_again() -> None:
    """The due index is memory only; a new reconciler over the same store rebuilds it."""
    world, restarted, partition = _restarted_while_an_edit_waits()
    out = restarted.tick(Source("ticks", partition, 1), int(_s(10).timestamp() * 1000))
    assert [e.drift_class for _, e in out if isinstance(e, DriftDetected)] == ["out_of_band_change"]
    assert feed_key("crm", 0) not in world.store


def test_a_restarted_reconciler_whose_first_input_is_another_resource_still_finds_them() -> None:
    """An input on the partition before its first tick must not hide the restored waiting states."""
    _world, restarted, partition = _restarted_while_an_edit_waits()
    neighbour = next(
        f"n{i}"
        for i in itertools.count()
        if partition_for(f"crm/contact/n{i}".encode(), PARTITIONS) == partition
    )
    restarted.handle(Source("observations.v1", partition, 50), ExternalStateObserved.model_validate({
        "metadata": _meta(_s(2)), "resource": {**CONTACT, "id": neighbour},
        "external_version": "1", "fields": {"email": "n@x.io"}, "observed_at": _s(2),
        "source": "crm", "change_sequence": 9, "deleted": False,
    }))  # fmt: skip
    out = restarted.tick(Source("ticks", partition, 1), int(_s(10).timestamp() * 1000))
    assert [(e.resource.id, e.drift_class) for _, e in out if isinstance(e, DriftDetected)] == [
        ("7", "out_of_band_change")
    ]


def test_a_partition_given_back_after_a_rebalance_is_indexed_again() -> None:
    """States another instance changed while it held the partition are found once it is back."""
    world = World()
    world.observe(_s(0), email="a@x.io")
    partition = partition_for(b"crm/contact/7", PARTITIONS)
    assert world.tick(_s(1)) == []
    world.reconciler.forget([partition])
    other = _over(world.store)
    other.handle(Source("observations.v1", partition, 99), ExternalStateObserved.model_validate({
        "metadata": _meta(_s(2)), "resource": CONTACT, "external_version": "2",
        "fields": {"email": "b@x.io"}, "observed_at": _s(2), "source": "crm",
        "change_sequence": 2, "deleted": False,
    }))  # fmt: skip
    [alert] = _detected(world.tick(_s(10)))
    assert alert.drift_class == "out_of_band_change"


def test_an_open_alert_is_not_judged_again_until_an_input_changes_its_resource() -> None:
    """After its verdict a resource leaves the due index; the next observation brings it back."""
    world = World()
    world.observe(_s(0), tier="gold")
    world.observe(_s(1), tier="bronze")
    [alert] = _detected(world.tick(_s(7)))
    assert alert.drift_class.value == "out_of_band_change"
    partition = partition_for(b"crm/contact/7", PARTITIONS)
    due = world.reconciler._due[partition]  # noqa: SLF001  # the index is what the test is about
    assert b"crm/contact/7" not in due
    assert world.tick(_s(8)) == []
    world.observe(_s(9), tier="gold")
    assert b"crm/contact/7" in due
    [resolved] = _resolved(world.tick(_s(15)))
    assert resolved.alert_id == alert.alert_id


def test_an_out_of_band_float_beyond_64_bit_integers_is_reported_as_that_float() -> None:
    """1e20 is a float field value: compared and shown as one, never as a 21-digit integer."""
    world = World()
    world.observe(_s(0), email="a@x.io", name="Ann")
    world.observe(_s(1), email=1e20, name="Ann")
    [alert] = _detected(world.tick(_s(6.5)))
    assert [(f.field, f.before, f.actual) for f in alert.fields] == [("email", "a@x.io", 1e20)]
    assert type(alert.fields[0].actual) is float
