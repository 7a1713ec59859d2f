"""What the reconciler remembers per resource and per change feed (its table values).

Everything is plain JSON so a state can live in a faust table and its changelog. Field
values are kept as canonical JSON text (compared as text, shown decoded).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from domain.values import INT64, Value

RECENT = 32
"""How many own versions, applied actions and sent alerts a resource remembers."""


def stored(value: Value) -> str:
    """A field value as the state keeps it: canonical JSON, numbers normalized (1 == 1.0)."""
    return json.dumps(_normal(value), sort_keys=True, separators=(",", ":"))


def _normal(value: Value) -> object:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value)).normalize()
        exponent = number.as_tuple().exponent
        if isinstance(exponent, int) and exponent >= 0 and INT64[0] <= number <= INT64[1]:
            return int(number)
        return float(number)  # 1e20 stays a float: no field value holds an integer that large
    if isinstance(value, list):
        return [_normal(item) for item in value]
    return {key: _normal(item) for key, item in value.items()}


def shown(text: str | None) -> Value:
    """A stored field value decoded again (``None`` when absent)."""
    return None if text is None else json.loads(text)


class Belief(BaseModel):
    """What we believe one field holds, and who set it (``None``: adopted from an observation)."""

    value: str
    action_id: str | None = None
    event_id: str


class Observed(BaseModel):
    """The newest observation of the resource."""

    fields: dict[str, str]
    version: str
    sequence: int
    source: str
    at_ms: int
    event_id: str
    deleted: bool = False


class Applied(BaseModel):
    """Our last applied mutation, until an observation reflects it."""

    action_id: str
    event_id: str
    version: str
    at_ms: int
    fields: dict[str, str]


class Alert(BaseModel):
    """An open alert (what was sent, so a resolution can refer to it)."""

    alert_id: str
    drift_class: str
    fields: list[str]
    anchor: str
    detected_ms: int
    agent_id: str | None = None


class Sent(BaseModel):
    """An event the reconciler produced, and the input position that produced it."""

    source: str
    record: dict[str, Any]


class ResourceState(BaseModel):
    """One resource: belief, reality, executions under way, open alerts."""

    key: str
    system: str
    type: str
    id: str
    believed: dict[str, Belief] = Field(default_factory=dict)
    actual: Observed | None = None
    unreflected: dict[str, Applied] = Field(default_factory=dict)
    """Applied actions no observation reflects yet, by action id."""
    authorized: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Authorized actions' parameters (what they will change), until applied."""
    executing: list[str] = Field(default_factory=list)
    applied: dict[str, str] = Field(default_factory=dict)
    """Applied action id → its ``MutationApplied`` event id."""
    compensations: dict[str, str] = Field(default_factory=dict)
    """Compensating action id → the ``revoked_but_applied`` alert it will resolve."""
    open: dict[str, Alert] = Field(default_factory=dict)
    last_change_ms: int = 0
    unjudged: bool = True
    """An input came since the last settled verdict (else there is nothing new to judge)."""
    seen: dict[str, int] = Field(default_factory=dict)
    """``topic:partition`` → the last offset applied to this state."""
    sent: list[Sent] = Field(default_factory=list)


class FeedState(BaseModel):
    """One system's change feed as seen on one partition."""

    system: str
    partition: int
    read_at_ms: int
    event_id: str
    alert: Alert | None = None
    seen: dict[str, int] = Field(default_factory=dict)
    sent: list[Sent] = Field(default_factory=list)


def remember(items: list[str], item: str) -> None:
    """Append ``item`` keeping the newest :data:`RECENT` entries."""
    if item not in items:
        items.append(item)
        del items[:-RECENT]
