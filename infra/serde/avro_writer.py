"""Avro binary writers compiled from a record's schema, fed by domain records directly.

fastavro's writer is generic: it dispatches on each schema node's type for every datum
(about 30 µs per proposal) and needs a dict built from the record first (another 10).
:func:`compile_writer` walks the schema once and returns one closure per node, each
appending its node's encoding to a ``bytearray``; records are read from pydantic
objects' attributes (or from dicts). The output is byte for byte what fastavro writes
for the datum :mod:`infra.serde.codec` maps (the contract tests compare them).

What the schemas use is supported: primitives, ``[null, T]`` unions, records, enums,
arrays, maps, fixed, the ``decimal`` (bytes), ``uuid`` and ``timestamp-millis`` logical
types, and the recursive ``agentledger.v1.Value`` record with its own writer.

The C module (:mod:`infra.serde.avro_native`) writes the same bytes with the same
refusals and is used when it is built; these closures are its fallback and the
reference it is tested against.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from decimal import Context, Decimal
from typing import Any

from infra.serde.codec import Schema, millis_of
from infra.serde.schema_walk import Kit, SchemaWalk, ValueTags

Write = Callable[[bytearray, Any], None]
"""Append the encoding of a datum to the buffer."""

LONG_RANGE = (-(2**63), 2**63 - 1)
INT_RANGE = (-(2**31), 2**31 - 1)
_EXACT = Context(prec=1_000_000)  # scaling a decimal to its unscaled integer never rounds
_pack_double = struct.Struct("<d").pack
_pack_float = struct.Struct("<f").pack


def compile_writer(schema: Schema, named: dict[str, Schema]) -> Callable[[Any], bytes]:
    """Record -> its Avro body under ``schema``; ``named`` resolves type references.

    Raises ``ValueError``/``TypeError``/``OverflowError`` for a datum that does not fit.
    """
    write = SchemaWalk(named, _KIT).node(schema)

    def encode(record: Any) -> bytes:  # noqa: ANN401  # a record of the schema
        out = bytearray()
        try:
            write(out, record)
        except (AttributeError, IndexError, struct.error) as exc:  # a datum of the wrong type
            raise TypeError(f"{exc.__class__.__name__}: {exc}") from exc
        return bytes(out)

    return encode


def write_long(out: bytearray, number: int) -> None:
    """Zig-zag varint, as Avro's int and long are written."""
    if not LONG_RANGE[0] <= number <= LONG_RANGE[1]:
        raise OverflowError(f"{number} does not fit in a long")
    number = (number << 1) ^ (number >> 63)
    while number > 0x7F:  # noqa: PLR2004  # seven bits per byte
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)


def write_string(out: bytearray, text: str) -> None:
    """Length, then UTF-8."""
    data = text.encode()
    size = len(data)
    if size < 64:  # noqa: PLR2004  # the zig-zag length fits one byte
        out.append(size << 1)
    else:
        write_long(out, size)
    out += data


def write_bytes(out: bytearray, data: bytes) -> None:
    """Length, then the bytes."""
    write_long(out, len(data))
    out += data


def _write_int(out: bytearray, number: int) -> None:
    if not INT_RANGE[0] <= number <= INT_RANGE[1]:
        raise OverflowError(f"{number} does not fit in an int")
    write_long(out, number)


def _write_boolean(out: bytearray, flag: bool) -> None:  # noqa: FBT001  # a datum
    out.append(1 if flag else 0)


def _write_double(out: bytearray, number: float) -> None:
    out += _pack_double(number)


def _write_float(out: bytearray, number: float) -> None:
    out += _pack_float(number)


def _write_null(_out: bytearray, _datum: None) -> None:
    return


def _write_uuid(out: bytearray, ident: Any) -> None:  # noqa: ANN401  # a UUID or its text
    write_string(out, ident if type(ident) is str else str(ident))


def _write_instant(out: bytearray, moment: Any) -> None:  # noqa: ANN401  # a datetime or millis
    write_long(out, millis_of(moment))


_PRIMITIVES: dict[str, Write] = {
    "null": _write_null, "boolean": _write_boolean, "int": _write_int, "long": write_long,
    "float": _write_float, "double": _write_double, "bytes": write_bytes,
    "string": write_string,
}  # fmt: skip


def unscaled_bytes(precision: int, scale: int) -> Callable[[Decimal | bytes], bytes]:
    """A decimal's unscaled integer, big-endian two's complement, as Avro's decimal holds it."""

    def unscaled(amount: Decimal | bytes) -> bytes:
        if type(amount) is not Decimal:  # already the unscaled bytes, as fastavro allows
            return amount  # type: ignore[return-value]  # bytes
        _sign, digits, exponent = amount.as_tuple()
        if len(digits) > precision:
            raise ValueError(f"{amount} has more than {precision} digits")
        if exponent + scale < 0:  # type: ignore[operator]  # an int for finite decimals
            raise ValueError(f"{amount} has more than {scale} decimal places")
        number = int(amount.scaleb(scale, _EXACT))
        return number.to_bytes((number.bit_length() + 8) // 8, "big", signed=True)

    return unscaled


def _decimal_writer(precision: int, scale: int) -> Write:
    unscaled = unscaled_bytes(precision, scale)

    def write(out: bytearray, amount: Decimal | bytes) -> None:
        write_bytes(out, unscaled(amount))

    return write


def _union_writer(null_index: int, inner: Write) -> Write:
    null_tag, value_tag = null_index << 1, (1 - null_index) << 1

    def write(out: bytearray, datum: Any) -> None:  # noqa: ANN401  # None or a T
        if datum is None:
            out.append(null_tag)
        else:
            out.append(value_tag)
            inner(out, datum)

    return write


def _record_writer(fields: list[tuple[str, Write]]) -> Write:
    def write(out: bytearray, record: Any) -> None:  # noqa: ANN401  # a record or a dict
        data = record if type(record) is dict else record.__dict__
        for field, write_field in fields:
            write_field(out, data[field])

    return write


def _enum_writer(symbols: list[str]) -> Write:
    indexes = {symbol: index for index, symbol in enumerate(symbols)}

    def write(out: bytearray, symbol: str) -> None:
        index = indexes.get(symbol)
        if index is None:
            raise ValueError(f"{symbol!r} is not one of {symbols}")
        write_long(out, index)

    return write


def _array_writer(item: Write) -> Write:
    def write(out: bytearray, items: list[Any]) -> None:
        if len(items):  # not `if items`: None is refused, not written as an empty array
            write_long(out, len(items))
            for each in items:
                item(out, each)
        out.append(0)

    return write


def _map_writer(value: Write) -> Write:
    def write(out: bytearray, entries: dict[str, Any]) -> None:
        pairs = entries.items()  # None is refused, not written as an empty map
        if pairs:
            write_long(out, len(pairs))
            for key, each in pairs:
                write_string(out, key)
                value(out, each)
        out.append(0)

    return write


def _fixed_writer(size: int) -> Write:
    def write(out: bytearray, data: bytes) -> None:
        if len(data) != size:
            raise ValueError(f"fixed({size}) given {len(data)} bytes")
        out += data

    return write


def _value_writer(tags: ValueTags) -> Write:
    """The ``Value`` record: its union's branch from the value's exact type (as value_to_avro)."""
    null, boolean, long, double, string, decimal, listed, mapped = tags

    def write(out: bytearray, value: Any) -> None:  # noqa: ANN401  # a Value
        kind = type(value)
        if kind is str:
            out.append(string)
            write_string(out, value)
        elif value is None:
            out.append(null)
        elif kind is bool:
            out.append(boolean)
            out.append(1 if value else 0)
        elif kind is int:
            out.append(long)
            write_long(out, value)
        elif kind is float:
            out.append(double)
            out += _pack_double(value)
        elif kind is Decimal:
            out.append(decimal)
            write_string(out, str(value))
        elif kind is list:
            out.append(listed)
            items(out, value)
        elif kind is dict:
            out.append(mapped)
            members(out, value)  # an array of {key, value}: encoded as a map is
        else:
            raise TypeError(f"{kind.__name__} is not a field value")

    items, members = _array_writer(write), _map_writer(write)
    return write


_KIT: Kit[Write] = Kit(
    primitives={**_PRIMITIVES, "uuid": _write_uuid}, union=_union_writer,
    instant=_write_instant, decimal=_decimal_writer, record=_record_writer,
    enum=_enum_writer, array=_array_writer, map=_map_writer, fixed=_fixed_writer,
    value=_value_writer,
)  # fmt: skip
