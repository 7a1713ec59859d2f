"""What a rebuild of the actual-state view holds: each resource's newest observation only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.observer.observer import feed_read, observation_of
from domain.events import ExternalStateObserved
from domain.values import Record, ResourceRef
from infra.connectors.base import Change
from projections.actual import NewestObservations
from projections.store import KeepAll

pytestmark = pytest.mark.unit

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _observed(resource: int, sequence: int, version: str) -> ExternalStateObserved:
    ref = ResourceRef(system="billing", type="invoice", id=f"r{resource}")
    change = Change(
        sequence=sequence, resource=ref, version=version, fields={"amount": sequence},
        deleted=False, changed_at=AT,
    )  # fmt: skip
    return observation_of("billing", change, AT)


def _held(records: list[Record]) -> list[tuple[str, int, str]]:
    reducer = NewestObservations()
    for record in records:
        reducer.add(record)
    return [(o.resource.key, o.change_sequence, o.external_version) for o in reducer.drain()]


def test_only_the_highest_change_sequence_of_each_resource_is_held() -> None:
    """Out of order, the highest sequence wins; of equal ones the first read; feed checks drop."""
    records: list[Record] = [
        _observed(1, 5, "a"), _observed(2, 1, "b"), feed_read("billing", 9, AT, 0),
        _observed(1, 3, "c"), _observed(1, 5, "d"), _observed(2, 2, "e"),
    ]  # fmt: skip
    assert _held(records) == [("billing/invoice/r1", 5, "a"), ("billing/invoice/r2", 2, "e")]


def test_draining_empties_the_reducer() -> None:
    """After a drain nothing is held, and the next drain returns only what came since."""
    reducer = NewestObservations()
    reducer.add(_observed(1, 1, "a"))
    assert len(reducer) == 1
    assert len(reducer.drain()) == 1
    assert len(reducer) == 0
    reducer.add(_observed(2, 1, "b"))
    assert [o.resource.id for o in reducer.drain()] == ["r2"]


observations = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 6), st.sampled_from(["x", "y", "z"])),
    max_size=40,
)


@given(observations, st.integers(0, 40))
def test_reducing_in_two_writes_holds_what_reducing_at_once_holds(
    drawn: list[tuple[int, int, str]], cut: int
) -> None:
    """Reducing a prefix, then its survivors with the rest, equals reducing everything.

    That is why a rebuild may write whenever its reducer is full: the view's ``apply``
    selects the same newest observation per resource from any batch.
    """
    records: list[Record] = [_observed(*item) for item in drawn]
    first = NewestObservations()
    for record in records[:cut]:
        first.add(record)
    survivors: list[Record] = list(first.drain())
    assert _held(survivors + records[cut:]) == _held(records)


def test_keep_all_holds_every_record_in_order() -> None:
    """Projections whose every record counts hold all of them, in the order read."""
    reducer = KeepAll()
    records = [_observed(1, 2, "a"), _observed(1, 1, "b")]
    for record in records:
        reducer.add(record)
    assert len(reducer) == 2
    assert list(reducer.drain()) == records
    assert len(reducer) == 0
