"""Every live projection by name: what the projector runs and a replay rebuilds."""

from __future__ import annotations

from projections.actual import ActualState
from projections.approvals import ApprovalQueue
from projections.believed import BelievedState
from projections.drift import DriftView
from projections.timeline import ActionTimeline

AnyProjection = ActualState | BelievedState | DriftView | ApprovalQueue | ActionTimeline
PROJECTIONS: dict[str, type[AnyProjection]] = {
    "actual": ActualState,
    "believed": BelievedState,
    "drift": DriftView,
    "approvals": ApprovalQueue,
    "timeline": ActionTimeline,
}


def projections(names: list[str] | None = None) -> list[AnyProjection]:
    """The projections called ``names`` (all when ``None``)."""
    wanted = names or list(PROJECTIONS)
    unknown = [name for name in wanted if name not in PROJECTIONS]
    if unknown:
        raise KeyError(f"no projection {unknown}; there are {sorted(PROJECTIONS)}")
    return [PROJECTIONS[name]() for name in wanted]
