"""Tamper evidence checks: the store's per-aggregate chains, a topic's per-partition chains."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AuditResult:
    """How many events were checked, and the first broken link (``None``: all hold)."""

    checked: int
    broken: str | None = None
