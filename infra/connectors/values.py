"""Field values as the external systems store them: JSON, with exact decimals as strings.

JSON has no exact decimal type, so a :class:`~decimal.Decimal` is written as its string
(``Decimal("12.50")`` becomes ``"12.50"``) and read back as that string: the systems
of record here store decimals as strings, and observers see them that way.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import cast

from domain.values import Value, decoded_json


def dumps(value: object) -> str:
    """Canonical JSON text for ``value`` (keys sorted), decimals as strings."""
    return json.dumps(value, default=_decimal, allow_nan=False, sort_keys=True)


def fields_of(document: object) -> dict[str, Value]:
    """The fields of a decoded JSON object; anything else is a malformed answer.

    Integers beyond 64 bits become floats (:func:`~domain.values.decoded_json`): a
    system that keeps its fields in jsonb gives a float like ``1e20`` back as one.
    """
    if not isinstance(document, dict) or not all(isinstance(key, str) for key in document):
        raise TypeError(f"expected a JSON object of fields, got {type(document).__name__}")
    return cast("dict[str, Value]", decoded_json(document))


def _decimal(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a field value")
