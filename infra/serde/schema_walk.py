"""One walk over a record's schema, shared by the compiled Avro writer and reader.

:class:`SchemaWalk` resolves names, checks what is supported (``[null, T]`` unions,
no arrays of null) and compiles each named record once, even one that contains itself;
a :class:`Kit` says what each kind of node compiles to (writer or reader functions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from infra.serde.codec import Schema
from infra.serde.value_codec import DECIMAL, LIST, OBJECT, VALUE_RECORD

T = TypeVar("T")


class ValueTags(NamedTuple):
    """The zig-zag byte that marks each branch of the ``Value`` union (index << 1)."""

    null: int
    boolean: int
    long: int
    double: int
    string: int
    decimal: int
    listed: int
    mapped: int

    @classmethod
    def of(cls, value_schema: dict[str, Any]) -> ValueTags:
        """The tags of the ``Value`` record's union, in the order its schema gives."""
        branches = [
            b if isinstance(b, str) else b["name"] for b in value_schema["fields"][0]["type"]
        ]
        tag = {name: index << 1 for index, name in enumerate(branches)}
        return cls(
            tag["null"], tag["boolean"], tag["long"], tag["double"], tag["string"],
            tag[DECIMAL], tag[LIST], tag[OBJECT],
        )  # fmt: skip


@dataclass(frozen=True)
class Kit(Generic[T]):
    """What each kind of node compiles to, given what its parts compiled to."""

    primitives: dict[str, T]
    """Each primitive type by name, and ``uuid`` for a uuid string."""
    union: Callable[[int, T], T]
    """A ``[null, T]`` union from null's index (0 or 1) and T."""
    instant: T
    """A ``timestamp-millis`` long."""
    decimal: Callable[[int, int], T]
    """A ``decimal`` in bytes, from its precision and scale."""
    record: Callable[[list[tuple[str, T]]], T]
    """A record from its fields (the list is complete once the walk returns)."""
    enum: Callable[[list[str]], T]
    array: Callable[[T], T]
    map: Callable[[T], T]
    fixed: Callable[[int], T]
    value: Callable[[ValueTags], T]
    """The recursive ``agentledger.v1.Value`` record."""


class SchemaWalk(Generic[T]):
    """Compiles schema nodes with a :class:`Kit`; named records compile once."""

    def __init__(self, named: dict[str, Schema], kit: Kit[T]) -> None:
        """``named`` resolves references to named types by full name."""
        self._named = named
        self._kit = kit
        self._records: dict[str, T] = {}

    def node(self, schema: Schema) -> T:
        """What ``schema`` compiles to."""
        if isinstance(schema, str):
            if schema in self._kit.primitives:
                return self._kit.primitives[schema]
            return self.node(self._named[schema])
        if isinstance(schema, list):
            if len(schema) != 2 or "null" not in schema:  # noqa: PLR2004  # [null, T]
                raise ValueError(f"only [null, T] unions are supported, got {schema!r}")
            null_index = schema.index("null")
            return self._kit.union(null_index, self.node(schema[1 - null_index]))
        return self._typed(schema)

    def _typed(self, schema: dict[str, Any]) -> T:  # noqa: PLR0911  # one return per kind
        kit, kind, logical = self._kit, schema["type"], schema.get("logicalType")
        if logical == "timestamp-millis" and kind == "long":
            return kit.instant
        if logical == "decimal" and kind == "bytes":
            return kit.decimal(schema["precision"], schema.get("scale", 0))
        if kind == "record":
            return self._record(schema)
        if kind == "enum":
            return kit.enum(schema["symbols"])
        if kind == "array":
            if schema["items"] == "null":
                raise ValueError("arrays of null are not supported")
            return kit.array(self.node(schema["items"]))
        if kind == "map":
            return kit.map(self.node(schema["values"]))
        if kind == "fixed":
            return kit.fixed(schema["size"])
        if logical == "uuid" and kind == "string":
            return kit.primitives["uuid"]
        return self.node(kind)  # a primitive spelled as {"type": "string"}

    def _record(self, schema: dict[str, Any]) -> T:
        name = schema["name"]
        if name in self._records:
            return self._records[name]
        if name == VALUE_RECORD:
            self._records[name] = self._kit.value(ValueTags.of(schema))
            return self._records[name]
        fields: list[tuple[str, T]] = []
        self._records[name] = self._kit.record(fields)  # filled below: a field may be this record
        fields.extend((f["name"], self.node(f["type"])) for f in schema["fields"])
        return self._records[name]
