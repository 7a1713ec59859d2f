"""Avro binary readers generated as straight-line Python source from a record's schema.

The closure readers of :mod:`infra.serde.avro_reader` cost a Python call, a tuple and
an unpacking per schema node: about 30 of them for a proposal, two thirds of reading
it. :func:`compile_reader` instead writes one function per schema whose records are
inlined field by field into local variables, built as one dict display at the end, with
the common cases of strings, ids, longs and ``[null, T]`` unions read in place (a
one-byte length or varint) and anything longer handed to the closure helpers.

Nodes that gain nothing from inlining (decimals, enums, arrays, fixed, the recursive
``Value`` record and any record that contains itself) call their closure reader. The
result and every refusal are those of the closure reader; the tests compare the two.

Bounds: every read either indexes the data (an ``IndexError`` past its end), unpacks
from it (a ``struct.error``) or checks a length against it, so truncated data is refused
as the closure reader refuses it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from itertools import count
from struct import error as StructError  # noqa: N812  # the name the struct module gives it
from typing import Any

from infra.serde import avro_reader
from infra.serde.codec import EPOCH, Schema
from infra.serde.schema_walk import SchemaWalk
from infra.serde.value_codec import VALUE_RECORD

_ONE_BYTE = 0x80
_CALLED = frozenset({"enum", "fixed"})


def compile_reader(schema: Schema, named: dict[str, Schema]) -> Callable[[bytes, int], Any]:
    """(data, start) -> the record datum that fills ``data`` from ``start`` to its end.

    Raises ``ValueError`` for data that does not hold exactly one datum of ``schema``.
    """
    closures = SchemaWalk(named, avro_reader.KIT)
    closures.node(schema)  # refuses what the schema walk does not support, once, up front
    source = _Source(named, closures)
    source.node(schema, "datum", 1)
    lines = [
        "def decode(data, pos):",
        "    size = len(data)",
        "    try:",
        *("    " + line for line in source.lines),
        "    except (IndexError, StructError):",
        "        raise ValueError('the data ends inside the record') from None",
        "    if pos != size:",
        "        raise ValueError(f'{size - pos} byte(s) follow the record')",
        "    return datum",
    ]
    namespace = source.namespace
    exec(compile("\n".join(lines), f"<avro reader {_title(schema)}>", "exec"), namespace)  # noqa: S102  # our own generated source
    return namespace["decode"]  # type: ignore[no-any-return]  # the function just defined


def _title(schema: Schema) -> str:
    if isinstance(schema, dict):
        return str(schema.get("name", schema.get("type", "?")))
    return str(schema)


class _Source:
    """The lines of one reader; each node sets a target variable and advances ``pos``."""

    def __init__(self, named: dict[str, Schema], closures: SchemaWalk[avro_reader.Read]) -> None:
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {
            "StructError": StructError, "read_long": avro_reader.read_long,
            "read_string": avro_reader.read_string, "read_bytes": avro_reader.read_bytes,
            "unpack_double": avro_reader.unpack_double, "unpack_float": avro_reader.unpack_float,
            "block_count": avro_reader.block_count, "EPOCH": EPOCH, "timedelta": timedelta,
        }  # fmt: skip
        self._named = named
        self._closures = closures
        self._ids = count()
        self._inlining: list[str] = []

    def node(self, schema: Schema, target: str, depth: int) -> None:
        """Emit the code that reads ``schema`` into ``target``."""
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                _PRIMITIVES[schema](self, target, depth)
            else:
                self.node(self._named[schema], target, depth)
        elif isinstance(schema, list):
            self._union(schema, target, depth)
        else:
            self._typed(schema, target, depth)

    def emit(self, depth: int, *lines: str) -> None:
        """Append ``lines`` at ``depth`` levels of indentation."""
        self.lines.extend("    " * depth + line for line in lines)

    def fresh(self) -> str:
        """A variable name not used before in this reader."""
        return f"v{next(self._ids)}"

    def call(self, schema: Schema, target: str, depth: int) -> None:
        """Read ``schema`` through its closure reader."""
        name = f"r{next(self._ids)}"
        self.namespace[name] = self._closures.node(schema)
        self.emit(depth, f"{target}, pos = {name}(data, pos)")

    def _typed(self, schema: dict[str, Any], target: str, depth: int) -> None:
        kind, logical = schema["type"], schema.get("logicalType")  # as SchemaWalk orders them
        if logical == "timestamp-millis" and kind == "long":
            millis = self.fresh()
            _long(self, millis, depth)
            self.emit(depth, f"{target} = EPOCH + timedelta(milliseconds={millis})")
        elif (logical == "decimal" and kind == "bytes") or kind in _CALLED:
            self.call(schema, target, depth)
        elif kind == "record":
            self._record(schema, target, depth)
        elif kind == "array":
            self._blocks(schema["items"], target, depth, keyed=False)
        elif kind == "map":
            self._blocks(schema["values"], target, depth, keyed=True)
        elif logical == "uuid" and kind == "string":
            _string(self, target, depth)  # ids stay text: the record parses them
        else:
            self.node(kind, target, depth)  # a primitive spelled as {"type": "string"}

    def _union(self, schema: list[Schema], target: str, depth: int) -> None:
        null_index = schema.index("null")  # the walk accepted it: [null, T]
        null_tag, value_tag = null_index << 1, (1 - null_index) << 1
        tag = self.fresh()
        self.emit(depth, f"{tag} = data[pos]", f"if {tag} == {null_tag}:")
        self.emit(depth + 1, f"{target} = None", "pos += 1")
        self.emit(depth, f"elif {tag} == {value_tag}:")
        self.emit(depth + 1, "pos += 1")
        self.node(schema[1 - null_index], target, depth + 1)
        self.emit(depth, "else:")
        self.emit(depth + 1, f"raise ValueError(f'union branch tag {{{tag}}} at byte {{pos}}')")

    def _blocks(self, item: Schema, target: str, depth: int, *, keyed: bool) -> None:
        """An array or a map: blocks of items, each block led by its count, the last empty."""
        items, each = self.fresh(), self.fresh()
        self.emit(depth, f"{target} = {{}}" if keyed else f"{target} = []")
        _count(self, items, depth)
        self.emit(depth, f"while {items}:")
        self.emit(depth + 1, f"for _ in range({items}):")
        if keyed:
            key = self.fresh()
            _string(self, key, depth + 2)
            self.node(item, each, depth + 2)
            self.emit(depth + 2, f"{target}[{key}] = {each}")
        else:
            self.node(item, each, depth + 2)
            self.emit(depth + 2, f"{target}.append({each})")
        _count(self, items, depth + 1)

    def _record(self, schema: dict[str, Any], target: str, depth: int) -> None:
        name = schema["name"]
        if name == VALUE_RECORD or name in self._inlining:  # recursive: a function of its own
            self.call(schema, target, depth)
            return
        self._inlining.append(name)
        fields = []
        for field in schema["fields"]:
            variable = self.fresh()
            self.node(field["type"], variable, depth)
            fields.append(f"{field['name']!r}: {variable}")
        self._inlining.pop()
        self.emit(depth, f"{target} = {{{', '.join(fields)}}}")


def _long(source: _Source, target: str, depth: int) -> None:
    source.emit(depth, f"{target} = data[pos]", f"if {target} < {_ONE_BYTE}:")
    source.emit(depth + 1, f"{target} = ({target} >> 1) ^ -({target} & 1)", "pos += 1")
    source.emit(depth, "else:")
    source.emit(depth + 1, f"{target}, pos = read_long(data, pos)")


def _count(source: _Source, target: str, depth: int) -> None:
    """A block's item count: one byte for up to 63 items, else the helper (which bounds it)."""
    source.emit(depth, f"{target} = data[pos]", f"if {target} < {_ONE_BYTE} and not {target} & 1:")
    source.emit(depth + 1, f"{target} >>= 1", "pos += 1")
    source.emit(depth, "else:")
    source.emit(depth + 1, f"{target}, pos = block_count(data, pos)")


def _string(source: _Source, target: str, depth: int) -> None:
    size = source.fresh()
    source.emit(depth, f"{size} = data[pos]", f"if {size} < {_ONE_BYTE} and not {size} & 1:")
    source.emit(depth + 1, f"{size} = pos + 1 + ({size} >> 1)", f"if {size} > size:")
    source.emit(depth + 2, "raise ValueError(f'a string at byte {pos} runs past the data')")
    source.emit(depth + 1, f"{target} = data[pos + 1:{size}].decode()", f"pos = {size}")
    source.emit(depth, "else:")
    source.emit(depth + 1, f"{target}, pos = read_string(data, pos)")


def _boolean(source: _Source, target: str, depth: int) -> None:
    source.emit(depth, f"{target} = data[pos]", f"if {target} > 1:")
    source.emit(depth + 1, f"raise ValueError(f'boolean byte {{{target}}} at {{pos}}')")
    source.emit(depth, f"{target} = {target} == 1", "pos += 1")


def _fixed_width(unpack: str, width: int) -> Callable[[_Source, str, int], None]:
    def emit(source: _Source, target: str, depth: int) -> None:
        source.emit(depth, f"{target} = {unpack}(data, pos)[0]", f"pos += {width}")

    return emit


def _null(source: _Source, target: str, depth: int) -> None:
    source.emit(depth, f"{target} = None")


def _bytes(source: _Source, target: str, depth: int) -> None:
    source.emit(depth, f"{target}, pos = read_bytes(data, pos)")


_PRIMITIVES: dict[str, Callable[[_Source, str, int], None]] = {
    "null": _null, "boolean": _boolean, "int": _long, "long": _long,
    "float": _fixed_width("unpack_float", 4), "double": _fixed_width("unpack_double", 8),
    "bytes": _bytes, "string": _string,
}  # fmt: skip
