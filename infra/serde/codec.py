"""Mappers between domain records and Avro data, compiled once per schema.

``compile_encoder`` turns a parsed (expanded) schema into a function from a pydantic
record to the dict fastavro writes; ``compile_decoder`` turns what fastavro read into
the dict the record class validates. Parts of a schema that need no conversion compile
to ``None`` (identity), so only records and ``Value`` slots cost anything per message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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


def compile_encoder(schema: Schema, named: dict[str, Schema]) -> Mapper | None:
    """Record -> Avro datum for ``schema``; ``None`` when no conversion is needed."""
    return _compile(schema, named, value_to_avro, _encode_record)


def compile_decoder(schema: Schema, named: dict[str, Schema]) -> Mapper | None:
    """Avro datum -> dict for validation, for ``schema``; ``None`` when it is already right."""
    return _compile(schema, named, value_from_avro, _decode_record)


RecordBuilder = Callable[[list[tuple[str, Mapper | None]]], Mapper | None]


def _compile(  # noqa: PLR0911  # one return per kind of schema node reads best
    schema: Schema, named: dict[str, Schema], value: Mapper, record: RecordBuilder
) -> Mapper | None:
    if isinstance(schema, str):
        if schema == VALUE_RECORD:
            return value
        return _compile(named[schema], named, value, record) if schema in named else None
    if isinstance(schema, list):
        branches = [branch for branch in schema if branch != "null"]
        if len(branches) != 1:
            raise ValueError(f"only [null, T] unions are supported, got {schema!r}")
        inner = _compile(branches[0], named, value, record)
        return None if inner is None else (lambda datum: None if datum is None else inner(datum))
    kind = schema["type"]
    if kind == "record":
        if schema["name"] == VALUE_RECORD:
            return value
        fields = [(f["name"], _compile(f["type"], named, value, record)) for f in schema["fields"]]
        return record(fields)
    if kind == "array":
        item = _compile(schema["items"], named, value, record)
        return None if item is None else (lambda datum: [item(x) for x in datum])
    if kind == "map":
        entry = _compile(schema["values"], named, value, record)
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
