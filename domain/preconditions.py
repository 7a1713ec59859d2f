"""Invariant 6 in one place: which preconditions no longer hold, and how that is written down.

A stale-precondition rejection carries the field-level difference as a message a person
can read and a program can parse back: ``preconditions no longer hold: {JSON}``, where
the JSON maps each field to ``{"believed": …, "actual": …}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal

from domain.values import Value

PREFIX = "preconditions no longer hold: "


def differences(
    preconditions: Mapping[str, Value], actual: Mapping[str, Value]
) -> dict[str, tuple[Value, Value]]:
    """Each precondition field whose actual value differs: ``{field: (believed, actual)}``."""
    return {
        field: (believed, actual.get(field))
        for field, believed in sorted(preconditions.items())
        if not same(believed, actual.get(field))
    }


def same(left: Value, right: Value) -> bool:
    """Equal as JSON values (``1 == Decimal("1.0")``, but ``True != 1``)."""
    return _plain(left) == _plain(right)


def describe(diff: Mapping[str, tuple[Value, Value]]) -> str:
    """The rejection message for ``diff``."""
    body = {field: {"believed": b, "actual": a} for field, (b, a) in diff.items()}
    return PREFIX + json.dumps(body, sort_keys=True, default=str)


def parse(message: str) -> dict[str, tuple[Value, Value]] | None:
    """The difference a :func:`describe` message names; ``None`` for any other message."""
    if not message.startswith(PREFIX):
        return None
    try:
        body = json.loads(message[len(PREFIX) :])
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    return {
        str(field): (entry.get("believed"), entry.get("actual"))
        for field, entry in body.items()
        if isinstance(entry, dict)
    }


def _plain(value: Value) -> object:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, int | float | Decimal):
        return ("number", Decimal(str(value)).normalize())
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return {key: _plain(item) for key, item in sorted(value.items())}
