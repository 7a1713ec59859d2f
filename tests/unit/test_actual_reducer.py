"""What a rebuild of the actual-state view holds: each resource's newest observation only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from agentledger.bootstrap import catalog
from consumers.observer.records import feed_read, observation_of
from domain.events import ExternalStateObserved
from domain.values import Record, ResourceRef
from infra.connectors.base import Change
from infra.serde.decoded import Decoded, Reading
from infra.serde.errors import BadRecord, RecordFailsValidation
from projections.actual import OBSERVED, NewestObservations
from projections.store import KeepAll, UnusableRecord

pytestmark = pytest.mark.unit

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class Counted:
    """Decodes records as a rebuild reads them (through their Avro body); counts validations."""

    def __init__(self) -> None:
        """No record read whole or validated yet."""
        self.read = self.validated = 0

    def decoded(self, record: Record, **broken: Any) -> Decoded:
        """``record`` written; read back with ``broken`` metadata fields replaced in its datum."""
        contract = catalog()[type(record).__name__]
        body = contract.write(record)
        datum = contract.datum(body)
        datum["metadata"].update(broken)

        def read(_body: bytes) -> Any:
            self.read += 1
            return datum

        def validate(datum: Any) -> Record:
            self.validated += 1
            try:
                return contract.validate(datum)
            except ValidationError as exc:
                raise RecordFailsValidation(str(exc), datum) from exc

        def picker(names: frozenset[str]) -> Callable[[bytes], dict[str, Any]]:
            pick = contract.picker(names)  # the real one: metadata is never among the names
            return lambda body: pick(body, 0)

        return Decoded(contract.fullname, body, Reading(read, validate, picker))


def _observed(resource: int, sequence: int, version: str) -> ExternalStateObserved:
    ref = ResourceRef(system="billing", type="invoice", id=f"r{resource}")
    change = Change(
        sequence=sequence, resource=ref, version=version, fields={"amount": sequence},
        deleted=False, changed_at=AT,
    )  # fmt: skip
    return observation_of("billing", change, AT)


def _held(records: list[Record]) -> list[tuple[str, int, str]]:
    reducer, reads = NewestObservations(), Counted()
    for record in records:
        reducer.add(reads.decoded(record))
    return [(o.resource.key, o.change_sequence, o.external_version) for o in reducer.drain()]


def test_only_the_highest_change_sequence_of_each_resource_is_held() -> None:
    """Out of order, the highest sequence wins; of equal ones the first read; feed checks drop."""
    records: list[Record] = [
        _observed(1, 5, "a"), _observed(2, 1, "b"), feed_read("billing", 9, AT, 0),
        _observed(1, 3, "c"), _observed(1, 5, "d"), _observed(2, 2, "e"),
    ]  # fmt: skip
    assert _held(records) == [("billing/invoice/r1", 5, "a"), ("billing/invoice/r2", 2, "e")]


def test_only_the_observations_kept_are_read_whole_and_validated_and_only_when_drained() -> None:
    """Ten observations of two resources: none read whole or validated while adding; two drained."""
    reducer, reads = NewestObservations(), Counted()
    for sequence in range(10):
        reducer.add(reads.decoded(_observed(sequence % 2, sequence, "v")))
    assert (reads.read, reads.validated) == (0, 0)
    assert [o.change_sequence for o in reducer.drain()] == [8, 9]
    assert (reads.read, reads.validated) == (2, 2)


def test_an_invalid_observation_superseded_by_a_newer_one_changes_nothing() -> None:
    """An invalid older observation is dropped unread; the newer valid one is drained."""
    reducer, reads = NewestObservations(), Counted()
    reducer.add(reads.decoded(_observed(1, 1, "old"), event_id="not-a-uuid"))
    reducer.add(reads.decoded(_observed(1, 2, "new")))
    assert [o.external_version for o in reducer.drain()] == ["new"]


def test_an_invalid_newest_observation_makes_the_drain_refuse() -> None:
    """The valid older observation it replaced is gone: the drain says the rebuild must reread."""
    reducer, reads = NewestObservations(), Counted()
    reducer.add(reads.decoded(_observed(1, 1, "old")))
    reducer.add(reads.decoded(_observed(1, 2, "new"), event_id="not-a-uuid"))
    with pytest.raises(UnusableRecord, match="billing/invoice/r1 is invalid"):
        reducer.drain()


def test_records_validated_already_are_reduced_by_their_fields() -> None:
    """Records the projector applies, and decoded ones read under another schema, reduce alike."""
    reducer, reads = NewestObservations(), Counted()
    reducer.add_record(_observed(1, 2, "a"))
    reducer.add(Decoded.of(OBSERVED, _observed(1, 3, "b")))
    reducer.add(reads.decoded(_observed(1, 1, "c")))
    reducer.add_record(_observed(2, 1, "d"))
    reducer.add_record(feed_read("billing", 9, AT, 0))
    assert [o.external_version for o in reducer.drain()] == ["b", "d"]


def test_draining_empties_the_reducer() -> None:
    """After a drain nothing is held, and the next drain returns only what came since."""
    reducer, reads = NewestObservations(), Counted()
    reducer.add(reads.decoded(_observed(1, 1, "a")))
    assert len(reducer) == 1
    assert len(reducer.drain()) == 1
    assert len(reducer) == 0
    reducer.add(reads.decoded(_observed(2, 1, "b")))
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
    first, reads = NewestObservations(), Counted()
    for record in records[:cut]:
        first.add(reads.decoded(record))
    survivors: list[Record] = list(first.drain())
    assert _held(survivors + records[cut:]) == _held(records)


def test_keep_all_validates_and_holds_every_record_in_order() -> None:
    """Projections whose every record counts hold all of them, in the order read."""
    reducer, reads = KeepAll(), Counted()
    records = [_observed(1, 2, "a"), _observed(1, 1, "b")]
    for record in records:
        reducer.add(reads.decoded(record))
    assert reads.validated == 2
    with pytest.raises(BadRecord):
        reducer.add(reads.decoded(_observed(1, 3, "c"), event_id="not-a-uuid"))
    assert len(reducer) == 2
    assert list(reducer.drain()) == records
    assert len(reducer) == 0
