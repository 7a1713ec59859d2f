"""Leaf types shared by the events: field values, money, timestamps, resource references.

Each type is validated so that whatever the domain holds also fits its wire contract:
values are JSON-like (plus exact decimals), integers fit 64 bits, floats are finite,
timestamps are timezone-aware at millisecond precision, money has at most 4 decimals.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from typing_extensions import TypeAliasType

INT64 = (-(2**63), 2**63 - 1)

Value = TypeAliasType(
    "Value", "bool | int | float | str | Decimal | list[Value] | dict[str, Value] | None"
)
"""A field value of an external record: anything JSON can hold, plus exact decimals."""


def check_value(value: Value) -> Value:
    """Refuse what cannot round-trip: integers beyond 64 bits, NaN and infinities."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
        raise ValueError(f"integer {value} does not fit in 64 bits; send it as a Decimal")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"float {value} is not finite")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"decimal {value} is not finite")
    if isinstance(value, list):
        for item in value:
            check_value(item)
    if isinstance(value, dict):
        for item in value.values():
            check_value(item)
    return value


def _check_values(values: dict[str, Value]) -> dict[str, Value]:
    for value in values.values():
        check_value(value)
    return values


def _to_millis(moment: datetime) -> datetime:
    if moment.tzinfo is UTC and not moment.microsecond % 1000 and not moment.fold:
        return moment  # already a UTC instant at millisecond precision (every decoded one)
    millis = moment.microsecond // 1000 * 1000
    return moment.astimezone(UTC).replace(microsecond=millis, fold=0)


Values = Annotated[dict[str, Value], AfterValidator(_check_values)]
"""Named field values, e.g. an action's parameters or an observed record."""

Timestamp = Annotated[AwareDatetime, AfterValidator(_to_millis)]
"""A UTC instant at millisecond precision (what Avro timestamp-millis carries)."""

MONEY_PLACES = Decimal("0.0001")

Money = Annotated[
    Decimal,
    Field(max_digits=18, decimal_places=4, allow_inf_nan=False),
    AfterValidator(lambda amount: amount.quantize(MONEY_PLACES)),
]
"""An amount with at most 14 integer and 4 fractional digits, held at exactly 4 places."""

Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^/\s\x00-\x1f\x7f]+$")]
"""A non-empty identifier without slashes, spaces or control characters (key parts, codes)."""


class Record(BaseModel):
    """Base of every contract record: immutable, and unknown fields are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class ResourceRef(Record):
    """A resource in an external system of record: ``system/type/id``."""

    system: Name
    type: Name
    id: Name

    @property
    def key(self) -> str:
        """The resource key, used as the Kafka key of every topic."""
        return f"{self.system}/{self.type}/{self.id}"

    @classmethod
    def parse(cls, key: str) -> ResourceRef:
        """The reference for a ``system/type/id`` key."""
        system, kind, ident = key.split("/", 2)
        return cls(system=system, type=kind, id=ident)
