"""Avro binary readers compiled from a record's schema, giving what the record class validates.

The counterpart of :mod:`infra.serde.avro_writer`: one closure per schema node, each
taking ``(data, position)`` and returning ``(datum, next position)``. The datum is the
one :mod:`infra.serde.codec` maps fastavro's output to (instants as UTC datetimes,
``Value`` slots as plain values, ids as text for the record class to parse), so no
mapping pass follows. It reads only data written under this exact schema (resolving
an older writer's schema is fastavro's job), and refuses truncated data, trailing
bytes, unknown union branches or enum symbols, and counts larger than the data left
with a ``ValueError``.

The C module (:mod:`infra.serde.avro_native`) reads the same datums with the same
refusals, four to five times faster; these readers stand in when it is not built.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Context, Decimal
from struct import Struct
from struct import error as struct_error
from typing import Any

from infra.serde.codec import EPOCH, Schema
from infra.serde.schema_walk import Kit, SchemaWalk, ValueTags

Read = Callable[[bytes, int], tuple[Any, int]]
"""Decode one datum at a position; the datum and the position after it."""

_MAX_SHIFT = 63
unpack_double = Struct("<d").unpack_from
unpack_float = Struct("<f").unpack_from


def compile_reader(schema: Schema, named: dict[str, Schema]) -> Callable[[bytes, int], Any]:
    """(data, start) -> the record datum that fills ``data`` from ``start`` to its end."""
    read = SchemaWalk(named, KIT).node(schema)

    def decode(data: bytes, start: int) -> Any:  # noqa: ANN401  # a record datum
        try:
            datum, end = read(data, start)
        except (IndexError, struct_error):  # a byte, or a float's or double's bytes, missing
            raise ValueError("the data ends inside the record") from None
        if end != len(data):
            raise ValueError(f"{len(data) - end} byte(s) follow the record")
        return datum

    return decode


def read_long(data: bytes, pos: int) -> tuple[int, int]:
    """A zig-zag varint (Avro's int and long)."""
    byte = data[pos]
    pos += 1
    if byte < 0x80:  # noqa: PLR2004  # one byte: the common case
        return (byte >> 1) ^ -(byte & 1), pos
    number, shift = byte & 0x7F, 7
    while True:
        byte = data[pos]
        pos += 1
        if shift == _MAX_SHIFT and byte > 1:  # the 64th bit is the last there is
            raise ValueError("a varint longer than 64 bits")
        number |= (byte & 0x7F) << shift
        if byte < 0x80:  # noqa: PLR2004  # the last byte
            return (number >> 1) ^ -(number & 1), pos
        shift += 7  # never past 63: the byte there is 0 or 1, the last one


def read_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    """Length, then the bytes."""
    size, pos = read_long(data, pos)
    end = pos + size
    if size < 0 or end > len(data):
        raise ValueError(f"a length of {size} at byte {pos} runs past the data")
    return data[pos:end], end


def read_string(data: bytes, pos: int) -> tuple[str, int]:
    """Length, then UTF-8 without NUL (U+0000: no PostgreSQL text or jsonb value holds it)."""
    size = data[pos]
    if size < 0x80:  # noqa: PLR2004  # a one-byte length: the common case
        pos += 1
        end = pos + (size >> 1)
        if size & 1 or end > len(data):
            raise ValueError(f"a length of {size} at byte {pos} runs past the data")
        raw = data[pos:end]
    else:
        raw, end = read_bytes(data, pos)
    if b"\x00" in raw:  # in UTF-8 a 0 byte is U+0000 only
        raise ValueError(f"the text ending at byte {end} holds a NUL character")
    return raw.decode(), end


def _read_null(_data: bytes, pos: int) -> tuple[None, int]:
    return None, pos


def _read_boolean(data: bytes, pos: int) -> tuple[bool, int]:
    byte = data[pos]
    if byte > 1:
        raise ValueError(f"boolean byte {byte} at {pos}")
    return byte == 1, pos + 1


def _read_double(data: bytes, pos: int) -> tuple[float, int]:
    return unpack_double(data, pos)[0], pos + 8


def _read_float(data: bytes, pos: int) -> tuple[float, int]:
    return unpack_float(data, pos)[0], pos + 4


def _read_instant(data: bytes, pos: int) -> tuple[Any, int]:
    millis, pos = read_long(data, pos)
    return EPOCH + timedelta(milliseconds=millis), pos


_PRIMITIVES: dict[str, Read] = {
    "null": _read_null, "boolean": _read_boolean, "int": read_long, "long": read_long,
    "float": _read_float, "double": _read_double, "bytes": read_bytes, "string": read_string,
}  # fmt: skip


def _decimal_reader(precision: int, scale: int) -> Read:
    context = Context(prec=precision)  # as fastavro reads them

    def read(data: bytes, pos: int) -> tuple[Decimal, int]:
        raw, pos = read_bytes(data, pos)
        unscaled = int.from_bytes(raw, "big", signed=True)
        return context.create_decimal(unscaled).scaleb(-scale, context), pos

    return read


def _union_reader(null_index: int, inner: Read) -> Read:
    null_tag, value_tag = null_index << 1, (1 - null_index) << 1

    def read(data: bytes, pos: int) -> tuple[Any, int]:
        tag = data[pos]
        if tag == null_tag:
            return None, pos + 1
        if tag == value_tag:
            return inner(data, pos + 1)
        raise ValueError(f"union branch tag {tag} at byte {pos}")

    return read


def _record_reader(fields: list[tuple[str, Read]]) -> Read:
    def read(data: bytes, pos: int) -> tuple[dict[str, Any], int]:
        record: dict[str, Any] = {}
        for field, read_field in fields:
            record[field], pos = read_field(data, pos)
        return record, pos

    return read


def block_count(data: bytes, pos: int) -> tuple[int, int]:
    """The item count of the next block (its byte size skipped), bounded by the data left."""
    count, pos = read_long(data, pos)
    if count < 0:  # a block that also gives its size in bytes
        count = -count
        _size, pos = read_long(data, pos)
    if count > len(data) - pos:  # every item takes a byte at least
        raise ValueError(f"a block of {count} items at byte {pos} runs past the data")
    return count, pos


def _enum_reader(symbols: list[str]) -> Read:
    def read(data: bytes, pos: int) -> tuple[str, int]:
        index, pos = read_long(data, pos)
        if not 0 <= index < len(symbols):
            raise ValueError(f"enum index {index} is not one of {len(symbols)} symbols")
        return symbols[index], pos

    return read


def _array_reader(item: Read) -> Read:
    def read(data: bytes, pos: int) -> tuple[list[Any], int]:
        items: list[Any] = []
        count, pos = block_count(data, pos)
        while count:
            for _ in range(count):
                each, pos = item(data, pos)
                items.append(each)
            count, pos = block_count(data, pos)
        return items, pos

    return read


def _map_reader(value: Read) -> Read:
    def read(data: bytes, pos: int) -> tuple[dict[str, Any], int]:
        entries: dict[str, Any] = {}
        count, pos = block_count(data, pos)
        while count:
            for _ in range(count):
                key, pos = read_string(data, pos)
                entries[key], pos = value(data, pos)
            count, pos = block_count(data, pos)
        return entries, pos

    return read


def _fixed_reader(size: int) -> Read:
    def read(data: bytes, pos: int) -> tuple[bytes, int]:
        end = pos + size
        if end > len(data):
            raise ValueError(f"fixed({size}) at byte {pos} runs past the data")
        return data[pos:end], end

    return read


def _value_reader(tags: ValueTags) -> Read:
    """The ``Value`` record, straight to the value it holds (as value_from_avro)."""
    null, boolean, long, double, string, decimal, listed, mapped = tags

    def read(data: bytes, pos: int) -> tuple[Any, int]:  # noqa: PLR0911  # one return per kind
        kind = data[pos]
        pos += 1
        if kind == string:
            return read_string(data, pos)
        if kind == null:
            return None, pos
        if kind == boolean:
            return _read_boolean(data, pos)
        if kind == long:
            return read_long(data, pos)
        if kind == double:
            return _read_double(data, pos)
        if kind == decimal:
            digits, pos = read_string(data, pos)
            return Decimal(digits), pos
        if kind == listed:
            return items(data, pos)
        if kind == mapped:
            return members(data, pos)  # an array of {key, value}: encoded as a map is
        raise ValueError(f"Value branch tag {kind} at byte {pos - 1}")

    items, members = _array_reader(read), _map_reader(read)
    return read


KIT: Kit[Read] = Kit(
    primitives={**_PRIMITIVES, "uuid": read_string},  # ids stay text: the record parses them
    union=_union_reader, instant=_read_instant, decimal=_decimal_reader,
    record=_record_reader, enum=_enum_reader, array=_array_reader, map=_map_reader,
    fixed=_fixed_reader, value=_value_reader,
)  # fmt: skip
