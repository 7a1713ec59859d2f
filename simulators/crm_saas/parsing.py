"""Reading what a client sent: JSON bodies and query parameters, refused as problems."""

from __future__ import annotations

import json
import math
from typing import Any

from simulators.crm_saas.replies import Problem


def json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; NaN, infinities (even ``1e999``) and bad UTF-8 are malformed."""
    try:
        body = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite)
    except (ValueError, RecursionError) as exc:
        raise Problem(400, f"the body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise Problem(400, "the body must be a JSON object")
    return body


def fields_of(raw: bytes) -> dict[str, Any]:
    """The ``fields`` object of a ``{"fields": {...}}`` body."""
    fields = json_object(raw).get("fields")
    if not isinstance(fields, dict):
        raise Problem(400, 'the body must be {"fields": {...}}')
    return fields


def query_int(query: dict[str, list[str]], name: str, default: int) -> int:
    """A non-negative integer query parameter, ``default`` when absent."""
    values = query.get(name)
    if not values:
        return default
    try:
        value = int(values[0])
    except ValueError as exc:
        raise Problem(400, f"query parameter {name} must be an integer") from exc
    if value < 0:
        raise Problem(400, f"query parameter {name} must not be negative")
    return value


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value
