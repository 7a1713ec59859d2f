"""Mappers between domain records and Avro data, compiled once per schema.

``compile_encoder`` turns a parsed (expanded) schema into a function from a pydantic
record to the dict fastavro writes; ``compile_decoder`` turns what fastavro read into
the dict the record class validates. Parts of a schema that need no conversion compile
to ``None`` (identity), so only records, ``Value`` slots and instants cost anything.

These serve the paths through fastavro and confluent-kafka's serde (a record not yet
registered, data written under another schema); our own schema's bodies go through
:mod:`infra.serde.avro_writer` and :mod:`infra.serde.avro_reader`. Ids are mapped to
strings and instants to epoch milliseconds, and both mappers also take the annotated
form (``UUID``, ``datetime``) that fastavro gives under the full schema. The encoder
names the branch of every union it fills (fastavro's ``(name, datum)`` notation): left
to guess, fastavro validates the datum against each branch, about half of a write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from infra.serde.value_codec import VALUE_RECORD, value_from_avro, value_to_avro

Mapper = Callable[[Any], Any]
Schema = Any  # a parsed Avro schema node: str, list (union) or dict


def named_types(schema: Schema, found: dict[str, Schema] | None = None) -> dict[str, Schema]:
    """Every named type (record, enum, fixed) defined anywhere in ``schema``, by full name."""
    found = {} if found is None else found
    if isinstance(schema, list):
        for branch in schema:
            named_types(branch, found)
    elif isinstance(schema, dict):
        if schema.get("type") in {"record", "enum", "fixed"}:
            found[schema["name"]] = schema
        for field in schema.get("fields", []):
            named_types(field["type"], found)
        for key in ("items", "values"):
            if key in schema:
                named_types(schema[key], found)
    return found


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def millis_of(moment: datetime | int) -> int:
    """Epoch milliseconds of an aware instant (as fastavro's timestamp-millis writes it)."""
    if isinstance(moment, int):
        return moment
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def instant_of(millis: int | datetime) -> datetime:
    """The UTC instant at ``millis`` after the epoch (exact, no float on the way)."""
    if isinstance(millis, datetime):
        return millis
    return EPOCH + timedelta(milliseconds=millis)


def _text_of(uuid: UUID | str) -> str:
    return uuid if isinstance(uuid, str) else str(uuid)


@dataclass(frozen=True)
class _Kit:
    """What one direction maps: ``Value`` slots, records, instants, ids."""

    value: Mapper
    record: Callable[[list[tuple[str, Mapper | None]]], Mapper | None]
    instant: Mapper
    uuid: Mapper | None
    name_branches: bool


def compile_encoder(schema: Schema, named: dict[str, Schema]) -> Mapper | None:
    """Record -> Avro datum for ``schema``; ``None`` when no conversion is needed."""
    return _compile(schema, named, _ENCODE)


def compile_decoder(schema: Schema, named: dict[str, Schema]) -> Mapper | None:
    """Avro datum -> dict for validation, for ``schema``; ``None`` when it is already right."""
    return _compile(schema, named, _DECODE)


def _compile(schema: Schema, named: dict[str, Schema], kit: _Kit) -> Mapper | None:
    if isinstance(schema, str):
        if schema == VALUE_RECORD:
            return kit.value
        return _compile(named[schema], named, kit) if schema in named else None
    if isinstance(schema, list):
        branches = [branch for branch in schema if branch != "null"]
        if len(branches) != 1:
            raise ValueError(f"only [null, T] unions are supported, got {schema!r}")
        inner = _compile(branches[0], named, kit)
        if kit.name_branches:
            return _named_branch(_branch_name(branches[0]), inner)
        return None if inner is None else (lambda datum: None if datum is None else inner(datum))
    return _compile_type(schema, named, kit)


def _branch_name(branch: Schema) -> str:
    """The name fastavro's ``(name, datum)`` notation gives ``branch`` of a union."""
    if isinstance(branch, str):
        return branch
    return str(branch["name"] if branch["type"] in {"record", "enum", "fixed"} else branch["type"])


def _named_branch(name: str, inner: Mapper | None) -> Mapper:
    if inner is None:
        return lambda datum: None if datum is None else (name, datum)
    return lambda datum: None if datum is None else (name, inner(datum))


def _compile_type(  # noqa: PLR0911  # one return per kind of schema node reads best
    schema: dict[str, Any], named: dict[str, Schema], kit: _Kit
) -> Mapper | None:
    kind, logical = schema["type"], schema.get("logicalType")
    if logical == "timestamp-millis":
        return kit.instant
    if logical == "uuid":
        return kit.uuid
    if kind == "record":
        if schema["name"] == VALUE_RECORD:
            return kit.value
        fields = [(f["name"], _compile(f["type"], named, kit)) for f in schema["fields"]]
        return kit.record(fields)
    if kind == "array":
        item = _compile(schema["items"], named, kit)
        return None if item is None else (lambda datum: [item(x) for x in datum])
    if kind == "map":
        entry = _compile(schema["values"], named, kit)
        return None if entry is None else (lambda datum: {k: entry(v) for k, v in datum.items()})
    return None


def _encode_record(fields: list[tuple[str, Mapper | None]]) -> Mapper:
    def encode(obj: Any) -> dict[str, Any]:  # noqa: ANN401  # a pydantic record or a dict
        data = obj if isinstance(obj, dict) else obj.__dict__
        return {
            name: data[name] if mapper is None else mapper(data[name]) for name, mapper in fields
        }

    return encode


def _decode_record(fields: list[tuple[str, Mapper | None]]) -> Mapper | None:
    converting = [(name, mapper) for name, mapper in fields if mapper is not None]
    if not converting:
        return None

    def decode(datum: dict[str, Any]) -> dict[str, Any]:
        out = dict(datum)
        for name, mapper in converting:
            out[name] = mapper(datum[name])
        return out

    return decode


_ENCODE = _Kit(value_to_avro, _encode_record, millis_of, _text_of, name_branches=True)
_DECODE = _Kit(value_from_avro, _decode_record, instant_of, None, name_branches=False)
