"""Hypothesis strategies for every contract record, derived from its pydantic fields."""

from __future__ import annotations

import types
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Union, get_args, get_origin
from uuid import UUID

from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel
from typing_extensions import TypeAliasType

from domain.values import INT64, Value

TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)
"""Text a record can carry: no NUL character (our Avro readers refuse it, see avro_reader)."""


def values() -> st.SearchStrategy[Value]:
    """Any field value: scalars, exact decimals, and nested lists and objects."""
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(*INT64), TEXT,
        st.floats(allow_nan=False, allow_infinity=False),
        st.decimals(allow_nan=False, allow_infinity=False),
    )  # fmt: skip
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
        max_leaves=8,
    )


def records(cls: type[BaseModel]) -> st.SearchStrategy[Any]:
    """Valid instances of ``cls``, every field drawn from what its annotation allows."""
    fields = {
        name: _strategy(field.annotation, list(field.metadata))
        for name, field in cls.model_fields.items()
    }
    return st.builds(cls, **fields)


def _strategy(annotation: Any, metadata: list[Any]) -> st.SearchStrategy[Any]:  # noqa: C901, PLR0911, PLR0912  # a type dispatch
    origin, args = get_origin(annotation), get_args(annotation)
    if isinstance(annotation, TypeAliasType) and annotation.__name__ == "Value":
        return values()
    if origin is Annotated:
        inner = [m for a in args[1:] for m in getattr(a, "metadata", [a])]
        return _strategy(args[0], metadata + inner)
    if origin in {Union, types.UnionType}:
        options = [_strategy(arg, metadata) for arg in args if arg is not type(None)]
        return st.one_of(st.none(), *options) if type(None) in args else st.one_of(*options)
    if origin is list:
        return st.lists(_strategy(args[0], []), max_size=3)
    if origin is dict:
        return st.dictionaries(TEXT, _strategy(args[1], []), max_size=3)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return records(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return st.sampled_from(annotation)
    bounds = {k: getattr(m, k) for m in metadata for k in ("ge", "le", "gt") if hasattr(m, k)}
    pattern = next((m.pattern for m in metadata if getattr(m, "pattern", None)), None)
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        low = bounds.get("ge", bounds.get("gt", -1) + 1 if "gt" in bounds else 0)
        return st.integers(low, bounds.get("le", 2**31 - 1))
    if annotation is float:
        return st.floats(bounds.get("ge"), bounds.get("le"), allow_nan=False, allow_infinity=False)
    if annotation is Decimal:
        low = bounds.get("ge", -(10**13))
        return st.decimals(low, 10**13, places=4, allow_nan=False, allow_infinity=False)
    if annotation is UUID:
        return st.uuids()
    if annotation is bytes:  # a signature or key has its exact size
        low = next((m.min_length for m in metadata if getattr(m, "min_length", None)), 0)
        high = next((m.max_length for m in metadata if getattr(m, "max_length", None)), 50)
        return st.binary(min_size=low, max_size=high)
    if annotation in {AwareDatetime, datetime}:
        return st.datetimes(timezones=st.just(UTC))
    if annotation is str and pattern:
        return st.from_regex(pattern, fullmatch=True).filter(lambda s: 0 < len(s) <= 200)
    if annotation is str:
        return TEXT.filter(bool) if any(getattr(m, "min_length", 0) for m in metadata) else TEXT
    raise TypeError(f"no strategy for {annotation!r}: teach tests/strategies.py this type")
