"""Avro readers run by the C decoder in ``_avro_native.c``, from a program compiled here.

The schema walk compiles each node to a list ``[opcode, arguments...]`` (records hold
their ``(name, node)`` fields, so a record that contains itself is a cycle, not an
endless tree); the C module walks that program over the bytes. It returns exactly what
the pure Python reader of :mod:`infra.serde.avro_inline` returns and refuses bad data
with the same ``ValueError`` messages; the tests compare the two on every contract.

The C module is built by :mod:`infra.serde.build_native` (``make install`` runs it).
A module built from another version of the C source is not used: :func:`compile_reader`
then falls back to the pure Python reader and says so once in the log.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from decimal import Context, Decimal
from types import ModuleType
from typing import Any

from infra.serde import avro_inline
from infra.serde.build_native import SOURCE, source_digest
from infra.serde.codec import Schema
from infra.serde.schema_walk import Kit, SchemaWalk, ValueTags

log = logging.getLogger(__name__)

Node = list[Any]
"""One program node: its opcode, then its arguments."""

OP_NULL, OP_BOOLEAN, OP_LONG, OP_FLOAT, OP_DOUBLE, OP_BYTES, OP_STRING, OP_INSTANT = range(8)
OP_DECIMAL, OP_UNION, OP_RECORD, OP_ENUM, OP_ARRAY, OP_MAP, OP_FIXED, OP_VALUE = range(8, 16)


@functools.cache
def native_module() -> ModuleType | None:
    """The built C module, if it is built from the C source beside this file."""
    try:
        from infra.serde import _avro_native  # noqa: PLC0415  # optional: built by make install
    except ImportError as exc:
        log.warning("Avro decoding in pure Python (3x slower): no C decoder (%s)", exc)
        return None
    if SOURCE.exists() and source_digest() != _avro_native.SOURCE_SHA256:
        log.warning("Avro decoding in pure Python (3x slower): the C decoder is stale; "
                    "run `make install` to rebuild it")  # fmt: skip
        return None
    return _avro_native


def compile_reader(schema: Schema, named: dict[str, Schema]) -> Callable[[bytes, int], Any]:
    """(data, start) -> the datum that fills ``data`` from ``start``: C if built, else Python."""
    module = native_module()
    if module is None:
        return avro_inline.compile_reader(schema, named)
    return compile_native_reader(module, schema, named)


def compile_native_reader(
    module: ModuleType, schema: Schema, named: dict[str, Schema]
) -> Callable[[bytes, int], Any]:
    """The reader of ``schema`` that ``module`` (the C decoder) runs."""
    program = SchemaWalk(named, _KIT).node(schema)
    return functools.partial(module.decode, program)


def _decimal(precision: int, scale: int) -> Node:
    context = Context(prec=precision)  # as fastavro reads them

    def convert(raw: bytes) -> Decimal:
        unscaled = int.from_bytes(raw, "big", signed=True)
        return context.create_decimal(unscaled).scaleb(-scale, context)

    return [OP_DECIMAL, convert]


def _record(fields: list[tuple[str, Node]]) -> Node:
    return [OP_RECORD, fields]  # the same list the walk fills in once every field compiled


def _value(tags: ValueTags) -> Node:
    return [OP_VALUE, *tags, Decimal]


_PRIMITIVES: dict[str, Node] = {
    "null": [OP_NULL], "boolean": [OP_BOOLEAN], "int": [OP_LONG], "long": [OP_LONG],
    "float": [OP_FLOAT], "double": [OP_DOUBLE], "bytes": [OP_BYTES], "string": [OP_STRING],
    "uuid": [OP_STRING],  # ids stay text: the record parses them
}  # fmt: skip

_KIT: Kit[Node] = Kit(
    primitives=_PRIMITIVES,
    union=lambda null_index, inner: [OP_UNION, null_index, inner],
    instant=[OP_INSTANT],
    decimal=_decimal,
    record=_record,
    enum=lambda symbols: [OP_ENUM, list(symbols)],
    array=lambda item: [OP_ARRAY, item],
    map=lambda value: [OP_MAP, value],
    fixed=lambda size: [OP_FIXED, size],
    value=_value,
)
