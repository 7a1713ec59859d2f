"""The canonical text is exactly the sorted, tagged JSON of the record's model dump."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.canonical import canonical_text
from domain.events import ActionProposed, DomainEvent
from domain.events.decisions import DecisionOutcome
from domain.hashing import canonical, content_hash, digest, is_sealed, seal
from infra.serde.catalog import SHARED, TOP_LEVEL
from tests.strategies import records, values

pytestmark = pytest.mark.unit

EVENTS = [cls for cls in TOP_LEVEL if issubclass(cls, DomainEvent)]


def _tag(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$instant": value.isoformat()}
    if isinstance(value, UUID):
        return {"$uuid": str(value)}
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, Enum):
        return value.value
    raise TypeError(type(value).__name__)


def _reference(data: Any) -> bytes:
    """The definition the hash chain was first written with: json.dumps of the dump."""
    text = json.dumps(data, default=_tag, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode()


@pytest.mark.parametrize("cls", [*TOP_LEVEL, *SHARED], ids=lambda cls: cls.__name__)
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_record_text_equals_json_of_its_model_dump(cls: Any, data: st.DataObject) -> None:
    """Written straight from the record, the bytes are those of json.dumps(model_dump()).

    Fields added to the contract later are left out while unset, as the records sealed
    before they existed were written.
    """
    record = data.draw(records(cls))
    unset = {name for name in cls.added_fields if getattr(record, name) is None}
    assert canonical(record) == _reference(record.model_dump(mode="python", exclude=unset))


def test_a_proposal_sealed_before_signatures_existed_still_verifies() -> None:
    """The hash of an unsigned proposal is the one written before the contract had signatures."""
    from tests.decider_helpers import proposal  # noqa: PLC0415  # only this test needs it

    unsigned = proposal("bot", "k", signed_by=None)
    before = unsigned.model_dump(mode="python", exclude={"signature", "attestation"})
    sealed_then = unsigned.model_copy(update={"metadata": unsigned.metadata.model_copy(
        update={"hash": hashlib.sha256(_reference(before)).hexdigest()}
    )})  # fmt: skip
    assert is_sealed(sealed_then)
    signed = proposal("bot", "k", signed_by="bot")
    assert canonical(signed) == _reference(
        signed.model_dump(mode="python", exclude={"attestation"})
    )


@pytest.mark.parametrize("cls", EVENTS, ids=lambda cls: cls.__name__)
@settings(max_examples=10, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_a_seal_hashes_the_reference_text_with_the_hash_left_out(
    cls: Any, data: st.DataObject
) -> None:
    """seal() stores sha256 of the reference text with metadata.hash null; is_sealed agrees."""
    sealed = seal(data.draw(records(cls)))
    unset = {name for name in cls.added_fields if getattr(sealed, name) is None}
    dump = sealed.model_dump(mode="python", exclude=unset)
    dump["metadata"]["hash"] = None
    assert sealed.metadata.hash == hashlib.sha256(_reference(dump)).hexdigest()
    assert content_hash(sealed) == sealed.metadata.hash
    assert is_sealed(sealed)


@settings(max_examples=300, deadline=None)
@given(
    value=values()
    | st.lists(st.text() | st.floats() | st.integers() | st.decimals(allow_nan=False))
    | st.dictionaries(st.text(), st.text() | st.datetimes(timezones=st.just(UTC)) | st.uuids())
)
def test_value_text_equals_json_of_the_value(value: Any) -> None:
    """Unicode, escapes, float spellings (-0.0, 1e+16, NaN), big integers, nesting: as json writes them."""
    assert canonical_text(value).encode() == _reference(value)
    assert digest(value) == hashlib.sha256(_reference(value)).hexdigest()


class _Colour(Enum):
    RED = 1


def test_enum_members_are_written_as_their_values_and_tuples_as_lists() -> None:
    """A StrEnum as its text, any other enum as its value, a tuple as a list."""
    value = {"outcome": DecisionOutcome.ALLOW, "colour": _Colour.RED, "pair": ("a", 1)}
    assert canonical_text(value) == '{"colour":1,"outcome":"allow","pair":["a",1]}'


def test_types_stay_distinct_in_the_text() -> None:
    """A decimal, its text and its float never encode alike; nor an instant and its text."""
    moment = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=timezone(timedelta(hours=2)))
    texts = {
        canonical_text(Decimal("1.50")), canonical_text("1.50"), canonical_text(1.5),
        canonical_text(moment), canonical_text(moment.isoformat()),
    }  # fmt: skip
    assert len(texts) == 5
    assert canonical_text(Decimal("1.50")) == '{"$decimal":"1.50"}'
    assert canonical_text(moment) == '{"$instant":"2026-01-02T03:04:05.006000+02:00"}'


def test_a_known_proposal_has_known_bytes() -> None:
    """Pinned text: a change of the encoding would break every stored hash chain."""
    proposal = ActionProposed.model_validate({
        "metadata": {
            "event_id": UUID(int=1), "correlation_id": UUID(int=2),
            "occurred_at": datetime(2026, 1, 1, tzinfo=UTC),
        },
        "agent_id": "a", "idempotency_key": "k",
        "resource": {"system": "crm", "type": "contact", "id": "7"},
        "action_type": "contact.update", "parameters": {"é": [1, 2.5, None, True]},
        "preconditions": {}, "confidence": 0.5, "estimated_cost": Decimal(3),
    })  # fmt: skip
    assert (
        canonical(proposal)
        == (
            '{"action_type":"contact.update","agent_id":"a","confidence":0.5,'
            '"estimated_cost":{"$decimal":"3.0000"},"idempotency_key":"k","metadata":{'
            '"aggregate_version":null,"causation_id":null,'
            '"correlation_id":{"$uuid":"00000000-0000-0000-0000-000000000002"},'
            '"event_id":{"$uuid":"00000000-0000-0000-0000-000000000001"},"hash":null,'
            '"occurred_at":{"$instant":"2026-01-01T00:00:00+00:00"},"previous_hash":null},'
            '"parameters":{"é":[1,2.5,null,true]},"plan_id":null,"preconditions":{},'
            '"rationale":null,"resource":{"id":"7","system":"crm","type":"contact"}}'
        ).encode()
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [({1: "x"}, "keys must be strings"), ({"s": {1, 2}}, "cannot encode set")],
)
def test_what_has_no_canonical_text_is_refused_by_name(value: Any, message: str) -> None:
    """Non-string keys and unknown types raise TypeError naming them; nothing is guessed."""
    with pytest.raises(TypeError, match=message):
        canonical_text(value)
