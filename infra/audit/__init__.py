"""Tamper evidence checks: the store's per-aggregate chains, a topic's per-partition chains."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AuditResult:
    """How many records were checked and found genuine, and what was found wrong, in order."""

    checked: int
    findings: list[str] = field(default_factory=list)
    basis: str = ""
    """What the records were checked against, besides their own chains (for the report)."""

    @property
    def broken(self) -> str | None:
        """The first finding (``None``: every link holds)."""
        return self.findings[0] if self.findings else None
