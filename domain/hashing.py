"""Tamper evidence: a canonical encoding of records and the hash chain over them."""

from __future__ import annotations

import hashlib
from typing import Any, TypeVar

from domain.canonical import canonical_text
from domain.events.base import DomainEvent
from domain.values import Record

R = TypeVar("R", bound=DomainEvent)


def canonical(record: Record) -> bytes:
    """Deterministic bytes for ``record``: sorted keys, and types kept distinct.

    Decimals, instants, UUIDs and bytes are tagged so that, e.g., ``Decimal("1.50")``,
    ``"1.50"`` and ``1.5`` never encode alike (see :mod:`domain.canonical`).
    """
    return canonical_text(record).encode()


def digest(data: Any) -> str:  # noqa: ANN401  # any JSON-able structure
    """sha256 hex digest of the canonical JSON of ``data``."""
    return hashlib.sha256(canonical_text(data).encode()).hexdigest()


def seal(record: R) -> R:
    """``record`` with ``metadata.hash`` set over its content and its ``previous_hash``."""
    value = content_hash(record)
    return record.model_copy(
        update={"metadata": record.metadata.model_copy(update={"hash": value})}
    )


def content_hash(record: DomainEvent) -> str:
    """sha256 of the record's canonical bytes, its own ``metadata.hash`` left out."""
    if record.metadata.hash is not None:
        unsealed = record.metadata.model_copy(update={"hash": None})
        record = record.model_copy(update={"metadata": unsealed})
    return hashlib.sha256(canonical(record)).hexdigest()


def is_sealed(record: DomainEvent) -> bool:
    """True if ``metadata.hash`` matches the record's content (nothing was modified)."""
    return record.metadata.hash is not None and content_hash(record) == record.metadata.hash
