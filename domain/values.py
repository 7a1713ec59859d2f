"""Leaf types shared by the events: field values, money, timestamps, resource references.

Each type is validated so that whatever the domain holds also fits its wire contract:
values are JSON-like (plus exact decimals), integers fit 64 bits, floats are finite,
timestamps are timezone-aware at millisecond precision, money has at most 4 decimals.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
)
from typing_extensions import TypeAliasType

INT64 = (-(2**63), 2**63 - 1)

Value = TypeAliasType(
    "Value", "bool | int | float | str | Decimal | list[Value] | dict[str, Value] | None"
)
"""A field value of an external record: anything JSON can hold, plus exact decimals."""


def checked_value(value: object) -> Value:
    """``value`` as a field value, rebuilt so that no caller keeps a handle on its containers.

    Refuses what is not a field value (a set, an object...) and what cannot round-trip:
    integers beyond 64 bits, NaN and infinities. Exact types only: ``True`` stays a
    boolean, ``Decimal('1.50')`` keeps its exponent. One walk does it: pydantic's
    validation of the recursive union tried each branch per value (half the cost of
    validating a proposal).
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value  # type: ignore[return-value]  # str, bool or None: a field value
    if kind is int:
        if not INT64[0] <= value <= INT64[1]:  # type: ignore[operator]  # an int
            raise ValueError(f"integer {value} does not fit in 64 bits; send it as a Decimal")
        return value  # type: ignore[return-value]  # an int
    if kind is float:
        if not math.isfinite(value):  # type: ignore[arg-type]  # a float
            raise ValueError(f"float {value} is not finite")
        return value  # type: ignore[return-value]  # a float
    if kind is dict:
        return checked_values(value)
    if kind is list:
        return [checked_value(item) for item in value]  # type: ignore[attr-defined]  # a list
    if kind is Decimal:
        if not value.is_finite():  # type: ignore[attr-defined]  # a Decimal
            raise ValueError(f"decimal {value} is not finite")
        return value  # type: ignore[return-value]  # a Decimal
    raise ValueError(f"{kind.__name__} is not a field value (JSON-like values or Decimal)")


def decoded_json(value: object) -> object:
    """A value decoded from JSON, with integers beyond 64 bits as the floats they were.

    PostgreSQL's jsonb keeps numbers as decimals and writes them without exponents: the
    float ``1e20``, stored in a jsonb column, reads back as ``100000000000000000000``, an
    integer no field value may hold. As a float it is exactly what was stored (every
    integer a float can reach is one). An integer too large for a float is left as it
    is, for :func:`checked_value` to refuse with its reason.
    """
    if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:  # never a bool
        try:
            return float(value)
        except OverflowError:
            return value
    if isinstance(value, dict):
        return {key: decoded_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decoded_json(item) for item in value]
    return value


def checked_values(values: object) -> dict[str, Value]:
    """``values`` as named field values (see :func:`checked_value`)."""
    if type(values) is not dict:
        raise ValueError(f"field values must be an object, not {type(values).__name__}")
    out: dict[str, Value] = {}
    for key, value in values.items():
        if type(key) is not str:
            raise ValueError(f"field names must be strings, not {type(key).__name__}")
        kind = type(value)
        if kind is str or kind is bool or value is None:  # as checked_value, without the call
            out[key] = value
        else:
            out[key] = checked_value(value)
    return out


def _to_millis(moment: datetime) -> datetime:
    if moment.tzinfo is UTC and not moment.microsecond % 1000 and not moment.fold:
        return moment  # already a UTC instant at millisecond precision (every decoded one)
    millis = moment.microsecond // 1000 * 1000
    return moment.astimezone(UTC).replace(microsecond=millis, fold=0)


_ANY_JSON: dict[str, object] = {"description": "Anything JSON can hold; decimals exactly."}

FieldValue = Annotated[Value, PlainValidator(checked_value), WithJsonSchema(_ANY_JSON)]
"""One field value in a record: see :func:`checked_value`."""

Values = Annotated[
    dict[str, Value],
    PlainValidator(checked_values),
    WithJsonSchema({"type": "object", "additionalProperties": _ANY_JSON}),
]
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


BYTES_AS_BASE64 = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")
"""Keys and signatures in JSON (views, the API): base64, not text they are not."""


class Record(BaseModel):
    """Base of every contract record: immutable, and unknown fields are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    added_fields: ClassVar[frozenset[str]] = frozenset()
    """Optional fields added to the contract after records were sealed without them.

    Their canonical text leaves them out while they are ``None``, so that every record
    sealed before they existed still verifies.
    """


class ResourceRef(Record):
    """A resource in an external system of record: ``system/type/id``."""

    system: Name
    type: Name
    id: Name

    @property
    def key(self) -> str:
        """The resource key, used as the Kafka key of every topic."""
        return self.key_of(self.system, self.type, self.id)

    @staticmethod
    def key_of(system: str, kind: str, ident: str) -> str:
        """The key of the resource ``system/kind/ident`` (parts as given, unchecked)."""
        return f"{system}/{kind}/{ident}"

    @classmethod
    def parse(cls, key: str) -> ResourceRef:
        """The reference for a ``system/type/id`` key; a ``ValueError`` names a bad one."""
        parts = key.split("/", 2)
        if len(parts) != 3:  # noqa: PLR2004  # system, type and id
            raise ValueError(f"resource key {key!r} is not system/type/id")
        system, kind, ident = parts
        return cls(system=system, type=kind, id=ident)
