"""Drift alerts: belief and reality diverge, or agree again."""

from __future__ import annotations

from enum import StrEnum

from domain.events.base import DomainEvent
from domain.values import FieldValue, Record, ResourceRef


class DriftClass(StrEnum):
    """The kinds of divergence DESIGN.md defines."""

    EXECUTION_NOT_REFLECTED = "execution_not_reflected"
    OUT_OF_BAND_CHANGE = "out_of_band_change"
    REVOKED_BUT_APPLIED = "revoked_but_applied"
    STALE_BELIEF = "stale_belief"
    OBSERVER_STALE = "observer_stale"


class Severity(StrEnum):
    """How urgent an alert is."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class FieldDrift(Record):
    """One diverging field."""

    field: str
    before: FieldValue
    believed: FieldValue
    actual: FieldValue


class DriftDetected(DomainEvent):
    """Belief and reality diverge for a resource."""

    alert_id: str
    resource: ResourceRef
    drift_class: DriftClass
    severity: Severity
    fields: list[FieldDrift]
    contradicts: list[str]
    explanation: str


class DriftResolved(DomainEvent):
    """A drift alert closed."""

    alert_id: str
    resource: ResourceRef
    resolution: str
    resolved_by_event_id: str | None = None
