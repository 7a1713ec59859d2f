"""Avro backward compatibility, explained: can the new schema read old data.

The registry answers yes or no; this says which record and field break, e.g.
``ActionProposed.confidence: type changed from double to string``.
"""

from __future__ import annotations

from typing import Any

from infra.serde.codec import named_types

Schema = Any
PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}


def backward_problems(new: Schema, old: Schema) -> list[str]:
    """Why data written with ``old`` cannot be read with ``new`` (empty: compatible)."""
    checker = _Checker(named_types(new), named_types(old))
    checker.check(new, old, _short(new.get("name", "?")) if isinstance(new, dict) else "?")
    return checker.problems


class _Checker:
    def __init__(self, new_named: dict[str, Schema], old_named: dict[str, Schema]) -> None:
        self.new_named, self.old_named = new_named, old_named
        self.problems: list[str] = []
        self._seen: set[tuple[str, str]] = set()

    def check(self, new: Schema, old: Schema, path: str) -> None:
        new, old = self._resolve(new, self.new_named), self._resolve(old, self.old_named)
        if isinstance(old, list):
            for branch in old:
                if not self._readable(new, branch):
                    self.problems.append(
                        f"{path}: union branch {_describe(branch)} no longer readable"
                    )
            return
        if isinstance(new, list):
            if not any(self._readable(branch, old) for branch in new):
                self.problems.append(
                    f"{path}: type changed from {_describe(old)} to {_describe(new)}"
                )
            else:
                self.check(next(b for b in new if self._readable(b, old)), old, path)
            return
        if _kind(new) != _kind(old) and _kind(new) not in PROMOTIONS.get(_kind(old), set()):
            self.problems.append(f"{path}: type changed from {_describe(old)} to {_describe(new)}")
            return
        self._check_same_kind(new, old, path)

    def _check_same_kind(self, new: Schema, old: Schema, path: str) -> None:
        kind = _kind(new)
        if kind == "record":
            self._check_record(new, old, path)
        elif kind == "enum":
            removed = [s for s in old["symbols"] if s not in new["symbols"]]
            if removed and "default" not in new:
                self.problems.append(f"{path}: enum symbols removed without a default: {removed}")
        elif kind == "array":
            self.check(new["items"], old["items"], f"{path}[]")
        elif kind == "map":
            self.check(new["values"], old["values"], f"{path}{{}}")
        elif _decimal_changed(new, old):
            self.problems.append(f"{path}: decimal precision or scale changed")

    def _check_record(self, new: Schema, old: Schema, path: str) -> None:
        key = (new["name"], old["name"])
        if key in self._seen:
            return
        self._seen.add(key)
        if _short(new["name"]) != _short(old["name"]) and old["name"] not in new.get("aliases", []):
            self.problems.append(f"{path}: record renamed from {old['name']} to {new['name']}")
        old_fields = {f["name"]: f for f in old["fields"]}
        for field in new["fields"]:
            names = [field["name"], *field.get("aliases", [])]
            match = next((old_fields[n] for n in names if n in old_fields), None)
            where = f"{_short(new['name'])}.{field['name']}"
            if match is None:
                if "default" not in field:
                    self.problems.append(f"{where}: field added without a default")
            else:
                self.check(field["type"], match["type"], where)

    def _readable(self, new: Schema, old: Schema) -> bool:
        probe = _Checker(self.new_named, self.old_named)
        probe._seen = set(self._seen)  # same class: share the recursion guard
        probe.check(new, old, "")
        return not probe.problems

    def _resolve(self, schema: Schema, named: dict[str, Schema]) -> Schema:
        return named.get(schema, schema) if isinstance(schema, str) else schema


def _decimal_changed(new: Schema, old: Schema) -> bool:
    if not (isinstance(new, dict) and new.get("logicalType") == "decimal"):
        return False
    return (new.get("precision"), new.get("scale")) != (old.get("precision"), old.get("scale"))


def _kind(schema: Schema) -> str:
    return schema if isinstance(schema, str) else str(schema.get("type"))


def _describe(schema: Schema) -> str:
    if isinstance(schema, list):
        return "[" + ", ".join(_describe(b) for b in schema) + "]"
    if isinstance(schema, dict):
        return str(schema.get("name") or schema.get("logicalType") or schema.get("type"))
    return str(schema)


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]
