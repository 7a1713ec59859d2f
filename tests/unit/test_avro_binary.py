"""The compiled Avro writer and readers: fastavro's bytes, and a clear error for bad data.

Every test runs against both implementations: the pure Python one and the C module.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer

from agentledger.bootstrap import catalog
from domain.events import ActionProposed
from infra.serde import avro_reader, avro_writer
from infra.serde.avro_native import compile_native_reader, compile_native_writer, native_module
from infra.serde.codec import Schema, named_types

pytestmark = pytest.mark.unit

SCHEMA: dict[str, Any] = {
    "type": "record", "name": "t.Sample",
    "fields": [
        {"name": "small", "type": "int"},
        {"name": "big", "type": "long"},
        {"name": "ratio", "type": "float"},
        {"name": "flag", "type": "boolean"},
        {"name": "raw", "type": "bytes"},
        {"name": "digest", "type": {"type": "fixed", "name": "t.Digest", "size": 4}},
        {"name": "colour", "type": {"type": "enum", "name": "t.Colour", "symbols": ["RED", "BLUE"]}},
        {"name": "tags", "type": {"type": "map", "values": {"type": "array", "items": "string"}}},
        {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal",
                                    "precision": 9, "scale": 2}},
        {"name": "child", "type": ["null", "t.Sample"], "default": None},
    ],
}  # fmt: skip
NAMED = named_types(SCHEMA)
Compile = Callable[[Schema, dict[str, Schema]], Callable[[bytes, int], Any]]
Write = Callable[[Any], bytes]


def _module() -> Any:  # the C module
    module = native_module()
    assert module is not None, "the C module is not built: `make install` builds it"
    return module


def _native_reader(schema: Schema, named: dict[str, Schema]) -> Callable[[bytes, int], Any]:
    return compile_native_reader(_module(), schema, named)


@pytest.fixture(params=[avro_reader.compile_reader, _native_reader], ids=["python", "c"])
def compile_reader(request: pytest.FixtureRequest) -> Compile:
    """Each reader in turn."""
    return request.param  # type: ignore[no-any-return]  # one of the two compilers


@pytest.fixture(params=["python", "c"])
def write(request: pytest.FixtureRequest) -> Write:
    """Each writer of SCHEMA in turn."""
    if request.param == "python":
        return avro_writer.compile_writer(SCHEMA, NAMED)
    return compile_native_writer(_module(), SCHEMA, NAMED)


def _sample(**changes: Any) -> dict[str, Any]:  # field values of any type
    datum: dict[str, Any] = {
        "small": -(2**31), "big": 2**63 - 1, "ratio": 0.5, "flag": True, "raw": b"\x00\xff",
        "digest": b"abcd", "colour": "BLUE", "tags": {"a": ["x", "é" * 70], "b": []},
        "amount": Decimal("-1234567.89"),
        "child": {"small": 1, "big": -1, "ratio": -2.0, "flag": False, "raw": b"",
                  "digest": b"wxyz", "colour": "RED", "tags": {}, "amount": Decimal("0.10"),
                  "child": None},
    }  # fmt: skip
    return datum | changes


def _fastavro(datum: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    schemaless_writer(buffer, parse_schema(SCHEMA), datum)
    return buffer.getvalue()


def test_every_kind_of_node_is_written_as_fastavro_writes_it_and_read_back(
    write: Write, compile_reader: Compile
) -> None:
    """int, long, float, boolean, bytes, fixed, enum, map of arrays, decimal and a recursive union."""
    datum = _sample()
    written = write(datum)
    assert written == _fastavro(datum)
    assert compile_reader(SCHEMA, NAMED)(written, 0) == datum


def test_a_block_with_a_negative_count_is_read_with_its_size_skipped(
    compile_reader: Compile,
) -> None:
    """Other Avro writers may give a block's byte size after a negative item count."""
    schema = {"type": "array", "items": "long"}
    read = compile_reader(schema, {})
    assert read(bytes([3, 4, 2, 4, 0]), 0) == [1, 2]  # count -2 (zig-zag 3), size 2, items 1 and 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes([2, 0x61]), "ends inside the record"),  # "a" then nothing for b
        (bytes([2, 0x61, 0, 0]), "byte\\(s\\) follow the record"),
        (bytes([0x7E, 0x61]), "runs past the data"),  # a 63-byte string in 1 byte
        (bytes([0xFF] * 11), "longer than 64 bits"),
    ],
)
def test_bad_bytes_are_a_value_error_that_says_what_is_wrong(
    compile_reader: Compile, data: bytes, message: str
) -> None:
    """Truncated data, trailing bytes, lengths past the end and endless varints are refused."""
    read = compile_reader({"type": "record", "name": "t.Two", "fields": [
        {"name": "a", "type": "string"}, {"name": "b", "type": ["null", "long"]},
    ]}, {})  # fmt: skip
    with pytest.raises(ValueError, match=message):
        read(data, 0)


@pytest.mark.parametrize("kind", ["double", "float"])
def test_a_record_cut_inside_a_floating_point_number_ends_inside_the_record(
    compile_reader: Compile, kind: str
) -> None:
    """A float or double missing some of its bytes is the same refusal as any truncation."""
    read = compile_reader(
        {"type": "record", "name": "t.Real", "fields": [{"name": "x", "type": kind}]}, {}
    )
    with pytest.raises(ValueError, match="ends inside the record"):
        read(bytes([0, 0]), 0)


@pytest.mark.parametrize(
    ("schema", "data", "message"),
    [
        (["null", "long"], bytes([4]), "union branch tag 4"),
        ("boolean", bytes([7]), "boolean byte 7"),
        ({"type": "enum", "name": "t.E", "symbols": ["A"]}, bytes([2]), "enum index 1"),
        ({"type": "array", "items": "long"}, bytes([0x80, 0x80, 0x80, 0x80, 0x10]), "runs past"),
        (
            {"type": "array", "items": "long"},
            bytes([0xFF] * 9 + [1, 0]),
            "2\\*\\*63 items|of 9223372036854775808 items",
        ),
        ("agentledger.v1.Value", bytes([30]), "Value branch tag 30"),
    ],
)
def test_impossible_values_are_refused(
    compile_reader: Compile, schema: Schema, data: bytes, message: str
) -> None:
    """Unknown union branches and enum symbols, a boolean byte above 1, a huge count: ValueError."""
    named = named_types(catalog()["ActionProposed"].schema)
    with pytest.raises(ValueError, match=message):
        compile_reader(schema, named)(data, 0)


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"big": 2**63}, OverflowError, "does not fit in a long"),
        ({"small": 2**31}, OverflowError, "does not fit in an int"),
        ({"colour": "GREEN"}, ValueError, "'GREEN' is not one of"),
        ({"amount": Decimal("1.234")}, ValueError, "more than 2 decimal places"),
        ({"amount": Decimal("12345678.90")}, ValueError, "more than 9 digits"),
        ({"digest": b"abc"}, ValueError, "fixed\\(4\\) given 3 bytes"),
        ({"big": "7"}, TypeError, "not supported between"),
        ({"tags": {"a": [7]}}, TypeError, "AttributeError"),
        ({"ratio": "half"}, TypeError, "required argument is not a float"),
        ({"raw": "text"}, TypeError, "bytes-like|can't concat str"),
        ({"tags": [("a", [])]}, TypeError, "'items'"),
        ({"tags": None}, TypeError, "'items'"),  # not an empty map
        ({"tags": {"a": None}}, TypeError, "NoneType|a sequence"),  # not an empty array
        ({"child": {"small": 1}}, KeyError, "big"),
    ],
)
def test_a_datum_that_does_not_fit_its_schema_is_refused(
    write: Write, changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    """Out-of-range numbers, unknown symbols, decimals beyond the schema, wrong types."""
    with pytest.raises(error, match=message):
        write(_sample(**changes))


def test_a_value_slot_refuses_what_is_not_a_field_value() -> None:
    """A set in a Value slot is a TypeError naming the type, not a guess."""
    record = _proposal().model_copy(update={"parameters": {"x": {1, 2}}})  # not validated
    with pytest.raises(TypeError, match="set is not a field value"):
        catalog()["ActionProposed"].write(record)


def _proposal() -> ActionProposed:
    return ActionProposed.model_validate({
        "metadata": {"event_id": "00000000-0000-0000-0000-000000000001",
                     "correlation_id": "00000000-0000-0000-0000-000000000002",
                     "occurred_at": "2026-01-01T00:00:00Z"},
        "agent_id": "a", "idempotency_key": "k",
        "resource": {"system": "crm", "type": "contact", "id": "1"},
        "action_type": "contact.update", "parameters": {}, "preconditions": {}, "confidence": 1,
    })  # fmt: skip
