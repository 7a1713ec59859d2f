"""Field values survive the Value encoding exactly, and the domain refuses what could not."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import load_schema
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from agentledger.bootstrap import SCHEMAS_DIR
from domain.events.observations import ExternalStateObserved
from domain.values import ResourceRef, Value, checked_value, decoded_json
from infra.serde.value_codec import value_from_avro, value_to_avro
from tests.strategies import values

pytestmark = pytest.mark.unit


VALUE_SCHEMA = parse_schema(load_schema(str(SCHEMAS_DIR / "agentledger.v1.Value.avsc")))


def _through_avro(value: Value) -> Value:
    buffer = io.BytesIO()
    schemaless_writer(buffer, VALUE_SCHEMA, value_to_avro(value))
    buffer.seek(0)
    return value_from_avro(schemaless_reader(buffer, VALUE_SCHEMA, None))  # type: ignore[arg-type]  # a record


def _typed(value: Value) -> Any:  # a structure that also compares types
    if isinstance(value, list):
        return ["list", [_typed(item) for item in value]]
    if isinstance(value, dict):
        return ["dict", [[key, _typed(item)] for key, item in value.items()]]
    return [type(value).__name__, repr(value)]


@given(values())
def test_any_value_round_trips_with_its_type_and_order(value: Value) -> None:
    """Through Avro, strings, numbers, booleans, null, decimals (with their exponent) and nesting come back identical."""
    assert _typed(_through_avro(value)) == _typed(value)


def test_values_that_look_alike_stay_distinct() -> None:
    """True is not 1, 1 is not 1.0, Decimal('1.50') is not Decimal('1.5'), '1' is not 1."""
    alike: list[Value] = [True, 1, 1.0, Decimal("1.50"), Decimal("1.5"), "1", None, [], {}]
    for value in alike:
        assert _typed(_through_avro(value)) == _typed(value)


def test_malformed_value_datum_is_a_value_error() -> None:
    """A Value holding an unknown record branch is reported, not silently turned into null."""
    with pytest.raises(ValueError, match="malformed Value: unknown branch"):
        value_from_avro({"v": {"surprise": 1}})


@pytest.mark.parametrize("bad", [2**63, float("nan"), float("inf"), Decimal("NaN")])
def test_domain_refuses_values_that_cannot_round_trip(bad: Value) -> None:
    """Integers beyond 64 bits, NaN and infinities are validation errors at the edge."""
    with pytest.raises(ValidationError):
        _observed({"x": bad})


def test_resource_key_round_trips() -> None:
    """A resource reference prints as system/type/id and parses back."""
    ref = ResourceRef.parse("crm/contact/42")
    assert ref.key == "crm/contact/42"
    assert ref == ResourceRef(system="crm", type="contact", id="42")


def _observed(fields: object) -> ExternalStateObserved:
    return ExternalStateObserved.model_validate({
        "metadata": {"event_id": "00000000-0000-0000-0000-000000000001",
                     "correlation_id": "00000000-0000-0000-0000-000000000002",
                     "occurred_at": "2026-01-01T00:00:00Z"},
        "resource": {"system": "crm", "type": "contact", "id": "1"},
        "external_version": "1", "fields": fields, "observed_at": "2026-01-01T00:00:00Z",
        "source": "test", "change_sequence": 0, "deleted": False,
    })  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"x": {1, 2}}, "set is not a field value"),
        ({"x": [object()]}, "object is not a field value"),
        ({"x": {"deep": [(1, 2)]}}, "tuple is not a field value"),
        ({1: "x"}, "field names must be strings, not int"),
        (["x"], "field values must be an object, not list"),
    ],
)
def test_domain_refuses_what_is_not_a_field_value(fields: object, message: str) -> None:
    """A set, a tuple, an arbitrary object or a non-string name is a validation error that says which."""
    with pytest.raises(ValidationError, match=message):
        _observed(fields)


def test_an_event_keeps_its_own_copy_of_its_values() -> None:
    """Mutating the dict or list a caller passed in does not change the (frozen) event."""
    nested: list[Value] = [1, 2]
    fields: dict[str, Value] = {"tags": nested}
    event = _observed(fields)
    nested.append(3)
    fields["added"] = True
    assert event.fields == {"tags": [1, 2]}


@given(st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: abs(f) > 2**63))
def test_a_float_read_back_from_jsonb_as_a_huge_integer_is_that_float_again(number: float) -> None:
    """A jsonb column gives 1e20 back as 100000000000000000000; decoded, it is 1e20 again."""
    decoded = decoded_json({"n": [int(number), 7, True]})
    assert decoded == {"n": [number, 7, True]}
    assert type(decoded["n"][0]) is float
    assert type(decoded["n"][2]) is bool
    assert checked_value(decoded) == decoded


def test_an_integer_too_large_for_a_float_is_left_for_the_check_to_refuse() -> None:
    """No float holds 10**400: it stays an integer, and the field check names the problem."""
    assert decoded_json(10**400) == 10**400
    with pytest.raises(ValueError, match="does not fit in 64 bits"):
        checked_value(decoded_json(10**400))
