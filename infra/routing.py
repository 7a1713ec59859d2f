"""Which topic each record goes to, and under which key."""

from __future__ import annotations

from domain.events import DomainEvent
from infra.topics import TOPICS

FLEET_CONTROLS = frozenset({"FleetStopped", "FleetResumed"})
FLEET_KEY = "fleet"
"""One key for every emergency stop and resume, so readers see them in order."""
_TOPIC_OF = {record: spec.name for spec in TOPICS for record in spec.records}


def route(record: DomainEvent) -> tuple[str, str]:
    """(topic name without prefix, key): resource key, ``fleet``, agent id or bundle digest."""
    name = type(record).__name__
    topic = _TOPIC_OF[name]
    resource = getattr(record, "resource", None)
    if resource is not None:
        return topic, resource.key
    if name in FLEET_CONTROLS:
        return topic, FLEET_KEY
    agent = getattr(record, "agent_id", None)
    if agent is not None:
        return topic, str(agent)
    return topic, str(getattr(record, "bundle_digest", name))
