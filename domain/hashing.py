"""Tamper evidence: a canonical encoding of records and the hash chain over them."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID

from domain.events.base import DomainEvent
from domain.values import Record

R = TypeVar("R", bound=DomainEvent)


def canonical(record: Record) -> bytes:
    """Deterministic bytes for ``record``: sorted keys, and types kept distinct.

    Decimals, instants, UUIDs and bytes are tagged so that, e.g., ``Decimal("1.50")``,
    ``"1.50"`` and ``1.5`` never encode alike.
    """
    return _encode(record.model_dump(mode="python"))


def _encode(data: Any) -> bytes:  # noqa: ANN401  # a model dump
    return json.dumps(
        data, default=_tag, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def digest(data: Any) -> str:  # noqa: ANN401  # any JSON-able structure
    """sha256 hex digest of the canonical JSON of ``data``."""
    text = json.dumps(data, default=_tag, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def seal(record: R) -> R:
    """``record`` with ``metadata.hash`` set over its content and its ``previous_hash``."""
    value = content_hash(record)
    return record.model_copy(
        update={"metadata": record.metadata.model_copy(update={"hash": value})}
    )


def content_hash(record: DomainEvent) -> str:
    """sha256 of the record's canonical bytes, its own ``metadata.hash`` left out."""
    data = record.model_dump(mode="python")
    data["metadata"]["hash"] = None
    return hashlib.sha256(_encode(data)).hexdigest()


def is_sealed(record: DomainEvent) -> bool:
    """True if ``metadata.hash`` matches the record's content (nothing was modified)."""
    return record.metadata.hash is not None and content_hash(record) == record.metadata.hash


def _tag(value: Any) -> Any:  # noqa: ANN401  # json's default hook
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$instant": value.isoformat()}
    if isinstance(value, UUID):
        return {"$uuid": str(value)}
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"cannot encode {type(value).__name__} canonically")
