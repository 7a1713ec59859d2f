"""Stored values as the API and the CLI show them: never deeper than a serializer can go.

Records stored before the intake limits existed may nest deeper than pydantic serializes
(255 levels); a listing must still answer, so deeper parts are shown as a marker.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

SHOWN_DEPTH = 64


def bounded(value: Any, depth: int = SHOWN_DEPTH) -> Any:  # noqa: ANN401  # any stored value
    """``value`` with models as dicts and every container below ``depth`` levels cut."""
    if isinstance(value, BaseModel):
        value = {name: getattr(value, name) for name in type(value).model_fields}
    if isinstance(value, dict | list):
        if depth <= 0:
            return f"(nested deeper than {SHOWN_DEPTH} levels: not shown)"
        if isinstance(value, dict):
            return {key: bounded(item, depth - 1) for key, item in value.items()}
        return [bounded(item, depth - 1) for item in value]
    return value


def shown(value: Any) -> Any:  # noqa: ANN401  # any stored value
    """``value`` bounded and as JSON-ready data (decimals and instants as strings).

    Bytes (keys, signatures) are base64, as their records write them in JSON.
    """
    return to_jsonable_python(bounded(value), bytes_mode="base64")
