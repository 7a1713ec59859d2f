"""Avro writers and readers run by the C module ``_avro_native.c``, from programs compiled here.

The schema walk compiles each node to a list ``[opcode, arguments...]`` (records hold
their ``(name, node)`` fields, so a record that contains itself is a cycle, not an
endless tree); the C module walks that program over a record to write its bytes, or
over bytes to read their datum. It writes what :mod:`infra.serde.avro_writer` writes
and reads what :mod:`infra.serde.avro_reader` reads, refusing what they refuse; the
tests hold each pair to the same results on every contract.

The C module is built by :mod:`infra.native_build` (``make install`` runs it).
A module built from another version of the C source is not used: the compile functions
then fall back to the pure Python ones and the log says so once.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from decimal import Context, Decimal
from types import ModuleType
from typing import Any
from uuid import UUID

from infra.native_build import AVRO
from infra.serde import avro_reader, avro_writer
from infra.serde.codec import Schema
from infra.serde.schema_walk import Kit, SchemaWalk, ValueTags

log = logging.getLogger(__name__)

Node = list[Any]
"""One program node: its opcode, then its arguments."""

OP_NULL, OP_BOOLEAN, OP_LONG, OP_FLOAT, OP_DOUBLE, OP_BYTES, OP_STRING, OP_INSTANT = range(8)
OP_DECIMAL, OP_UNION, OP_RECORD, OP_ENUM, OP_ARRAY, OP_MAP, OP_FIXED, OP_VALUE = range(8, 16)
OP_INT, OP_UUID, OP_SKIP = 16, 17, 18


@functools.cache
def native_module() -> ModuleType | None:
    """The built C module, if it is built from the C source beside this file."""
    module = AVRO.load("infra.serde", "Avro coding in pure Python (3-5x slower)")
    if module is not None:
        module.configure(UUID)  # ids of this class are written from their 128-bit int
    return module


def compile_reader(schema: Schema, named: dict[str, Schema]) -> Callable[[bytes, int], Any]:
    """(data, start) -> the datum that fills ``data`` from ``start``: C if built, else Python."""
    module = native_module()
    if module is None:
        return avro_reader.compile_reader(schema, named)
    return compile_native_reader(module, schema, named)


def compile_native_reader(
    module: ModuleType, schema: Schema, named: dict[str, Schema]
) -> Callable[[bytes, int], Any]:
    """The reader of ``schema`` that ``module`` (the C module) runs."""
    return functools.partial(module.decode, program(schema, named))


def compile_picker(
    schema: Schema, named: dict[str, Schema], names: frozenset[str]
) -> Callable[[bytes, int], dict[str, Any]]:
    """(data, start) -> the top-level fields ``names`` of the record that fills ``data``.

    With the C module the other fields are walked over, not read: their bytes are checked
    for shape only (lengths, tags, the end of the data), not for what the full reader
    checks of their values (UTF-8, enum indexes). Without it: the full read, filtered.
    """
    module = native_module()
    if module is None:
        read = avro_reader.compile_reader(schema, named)
        return lambda data, start: {k: v for k, v in read(data, start).items() if k in names}
    return functools.partial(module.decode, picking(program(schema, named), names))


def picking(record: Node, names: frozenset[str]) -> Node:
    """The program of ``record`` (a record's program) reading only its fields ``names``."""
    if record[0] != OP_RECORD:
        raise ValueError(f"only a record's fields can be picked, not opcode {record[0]}'s")
    return [OP_RECORD, [(n, node if n in names else [OP_SKIP, node]) for n, node in record[1]]]


def compile_writer(schema: Schema, named: dict[str, Schema]) -> Callable[[Any], bytes]:
    """Record -> its Avro body under ``schema``: C if built, else Python."""
    module = native_module()
    if module is None:
        return avro_writer.compile_writer(schema, named)
    return compile_native_writer(module, schema, named)


def compile_native_writer(
    module: ModuleType, schema: Schema, named: dict[str, Schema]
) -> Callable[[Any], bytes]:
    """The writer of ``schema`` that ``module`` (the C module) runs."""
    return functools.partial(module.encode, program(schema, named))


def program(schema: Schema, named: dict[str, Schema]) -> Node:
    """The program both directions of the C module run for ``schema``."""
    return SchemaWalk(named, _KIT).node(schema)


def _decimal(precision: int, scale: int) -> Node:
    context = Context(prec=precision)  # as fastavro reads them

    def convert(raw: bytes) -> Decimal:
        unscaled = int.from_bytes(raw, "big", signed=True)
        return context.create_decimal(unscaled).scaleb(-scale, context)

    return [
        OP_DECIMAL,
        convert,
        avro_writer.unscaled_bytes(precision, scale),
        precision,
        scale,
        Decimal,
    ]


def _record(fields: list[tuple[str, Node]]) -> Node:
    return [OP_RECORD, fields]  # the same list the walk fills in once every field compiled


def _value(tags: ValueTags) -> Node:
    return [OP_VALUE, *tags, Decimal]


_PRIMITIVES: dict[str, Node] = {
    "null": [OP_NULL], "boolean": [OP_BOOLEAN], "int": [OP_INT], "long": [OP_LONG],
    "float": [OP_FLOAT], "double": [OP_DOUBLE], "bytes": [OP_BYTES], "string": [OP_STRING],
    "uuid": [OP_UUID],  # written from a UUID or its text; read as text for the record to parse
}  # fmt: skip

_KIT: Kit[Node] = Kit(
    primitives=_PRIMITIVES,
    union=lambda null_index, inner: [OP_UNION, null_index, inner],
    instant=[OP_INSTANT],
    decimal=_decimal,
    record=_record,
    enum=lambda symbols: [OP_ENUM, list(symbols), {s: i for i, s in enumerate(symbols)}],
    array=lambda item: [OP_ARRAY, item],
    map=lambda value: [OP_MAP, value],
    fixed=lambda size: [OP_FIXED, size],
    value=_value,
)
