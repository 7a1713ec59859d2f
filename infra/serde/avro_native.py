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
from dataclasses import dataclass
from decimal import Context, Decimal
from types import ModuleType
from typing import Any, cast
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


Newest = Callable[[list[Any], int, dict[str, Any]], int]
"""``(payloads, start, held) -> stop``: see :func:`compile_newest`."""


@dataclass(frozen=True)
class Keeping:
    """Which payloads a :data:`Newest` takes, and what it keys and orders them by."""

    frame: bytes
    """What every payload it takes starts with (its record's framing)."""
    max_bytes: int
    key: tuple[tuple[str, ...], ...]
    """Where the key's parts are: paths of field names, outermost first."""
    separator: str
    """What joins the key's parts."""
    sequence: str
    """The top-level long field that orders the records of one key."""


def compile_newest(schema: Schema, named: dict[str, Schema], keeping: Keeping) -> Newest:
    """``newest(payloads, start, held)``: keep each key's newest payload of a run, in ``held``.

    From ``payloads[start]`` on, it takes each payload that starts with ``keeping.frame``,
    is at most ``keeping.max_bytes`` long and holds a record of ``schema`` after it, read
    as far as its key and sequence fields go (the rest walked over, as by
    :func:`compile_picker`). The texts at the key paths, joined by the separator, are its
    key; ``held[key]`` becomes ``(its sequence, payload)`` unless what is held there has a
    sequence at least as high (of equal ones, the first stays). It stops at the first
    payload it cannot take (anything else, e.g. ``None``, another frame, bytes that do not
    decode, a key part that is no text) and returns its index, ``len(payloads)`` if none:
    the caller then deals with that one its own way. With the C module one call reads the
    run; without it a Python loop does the same, reading each record whole (as the
    picker's fallback does), so it also stops at what only a whole read refuses.
    """
    module = native_module()
    if module is None:
        return compile_python_newest(schema, named, keeping)
    return compile_native_newest(module, schema, named, keeping)


def compile_native_newest(
    module: ModuleType, schema: Schema, named: dict[str, Schema], keeping: Keeping
) -> Newest:
    """The :data:`Newest` that ``module`` (the C module) runs."""
    reads = picking(program(schema, named), _keyed_by(keeping))
    k = keeping
    return functools.partial(
        module.newest, (reads, k.frame, k.max_bytes, k.key, k.separator, k.sequence)
    )


def compile_python_newest(schema: Schema, named: dict[str, Schema], keeping: Keeping) -> Newest:
    """The :data:`Newest` that runs in Python (what the C module's does)."""
    read = avro_reader.compile_reader(schema, named)
    return functools.partial(_newest, read, keeping)


def _keyed_by(keeping: Keeping) -> frozenset[str]:
    return frozenset({path[0] for path in keeping.key} | {keeping.sequence})


def _newest(
    read: Callable[[bytes, int], dict[str, Any]],
    keeping: Keeping,
    payloads: list[Any],
    start: int,
    held: dict[str, Any],
) -> int:
    frame = keeping.frame
    for index in range(start, len(payloads)):
        payload = payloads[index]
        if type(payload) is not bytes or not len(frame) <= len(payload) <= keeping.max_bytes:
            return index
        if not payload.startswith(frame):
            return index
        try:
            datum = read(payload, len(frame))
        except Exception:  # noqa: BLE001  # bad bytes: the caller's own reading says why
            return index
        parts = [_text_at(datum, path) for path in keeping.key]
        number = datum.get(keeping.sequence)
        if None in parts or type(number) is not int:
            return index
        seen = held.get(name := keeping.separator.join(cast("list[str]", parts)))
        if seen is None or seen[0] < number:
            held[name] = (number, payload)
    return len(payloads)


def _text_at(datum: Any, path: tuple[str, ...]) -> str | None:  # noqa: ANN401  # a datum
    for name in path:
        if type(datum) is not dict or name not in datum:
            return None
        datum = datum[name]
    return datum if type(datum) is str else None


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
