"""The ``agentledger.v1.Value`` record: one union field holding any field value.

Scalars take the union's primitive branches (boolean before long, so ``True`` stays a
boolean); exact decimals, lists and objects take named record branches. Every branch is
named with fastavro's ``(name, datum)`` notation, so fastavro guesses none (guessing a
branch validates the datum against each candidate: half the cost of a write).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.values import Value

VALUE_RECORD = "agentledger.v1.Value"
DECIMAL = "agentledger.v1.DecimalValue"
LIST = "agentledger.v1.ListValue"
OBJECT = "agentledger.v1.ObjectValue"


def value_to_avro(value: Value) -> dict[str, Any]:
    """The Avro datum for ``value``."""
    if isinstance(value, Decimal):
        return {"v": (DECIMAL, {"digits": str(value)})}
    if isinstance(value, list):
        return {"v": (LIST, {"items": [value_to_avro(item) for item in value]})}
    if isinstance(value, dict):
        members = [{"key": key, "value": value_to_avro(item)} for key, item in value.items()]
        return {"v": (OBJECT, {"members": members})}
    branch = _SCALARS.get(type(value))
    return {"v": value if branch is None else (branch, value)}  # None: fastavro judges it


_SCALARS: dict[type, str] = {
    type(None): "null", bool: "boolean", int: "long", float: "double", str: "string",
}  # fmt: skip


def value_from_avro(datum: dict[str, Any]) -> Value:
    """The value an Avro ``Value`` datum holds."""
    inner = datum.get("v")
    if not isinstance(inner, dict):
        return inner  # a scalar branch: None, bool, int, float, str
    if "digits" in inner:
        return Decimal(inner["digits"])
    if "items" in inner:
        return [value_from_avro(item) for item in inner["items"]]
    if "members" in inner:
        return {member["key"]: value_from_avro(member["value"]) for member in inner["members"]}
    raise ValueError(f"malformed Value: unknown branch with keys {sorted(inner)}")
