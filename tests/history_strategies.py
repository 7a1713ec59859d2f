"""Hypothesis strategies for topic histories: records of a few actions, alerts and resources.

Every record is valid on its own; the order is anything at all (out of lifecycle order,
a record repeated at a later offset), so a projection is tried on histories a hostile or
mistaken writer could produce, not only on the ones our services write.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel

from domain.events import ActionProposed, ExternalStateObserved
from domain.ids import action_id
from domain.values import Record, ResourceRef
from infra.serde.catalog import TOP_LEVEL
from infra.topics import topic_spec
from projections.store import canonical
from tests.strategies import records

AGENTS = ("agent-a", "agent-b")
KEYS = ("k1", "k2")
ACTIONS = [action_id(agent, key) for agent in AGENTS for key in KEYS]
REFS = [ResourceRef(system="crm", type="contact", id=str(n)) for n in range(3)]
ALERTS = ("alert-1", "alert-2")


def _pinned(record: Record, draw: st.DrawFn) -> Record:
    """``record`` about one of the few actions, resources and alerts, so histories overlap."""
    fields = type(record).model_fields
    update: dict[str, Any] = {}
    if "resource" in fields:
        update["resource"] = draw(st.sampled_from(REFS))
    if "action_id" in fields:
        update["action_id"] = draw(st.sampled_from(ACTIONS))
    if "alert_id" in fields:
        update["alert_id"] = draw(st.sampled_from(ALERTS))
    if isinstance(record, ActionProposed):
        update |= {"agent_id": draw(st.sampled_from(AGENTS)), "idempotency_key": draw(
            st.sampled_from(KEYS))}  # fmt: skip
    if isinstance(record, ExternalStateObserved):
        update |= {"change_sequence": draw(st.integers(0, 3)),
                   "source": draw(st.sampled_from(["crm", "billing"]))}  # fmt: skip
    return record.model_copy(update=update)


def _storable(record: BaseModel) -> bool:
    """PostgreSQL's text and jsonb hold no NUL character, however deep."""
    text = canonical(record.model_dump(mode="json"))
    return "\\u0000" not in text


@st.composite
def history(draw: st.DrawFn, topic: str) -> list[Record]:
    """Records of ``topic``'s contracts in any order, some repeated at a later offset."""
    classes = [cls for cls in TOP_LEVEL if cls.__name__ in topic_spec(topic).records]
    one = st.sampled_from(classes).flatmap(records).filter(_storable)
    drawn: list[Record] = [_pinned(record, draw) for record in draw(st.lists(one, max_size=14))]
    for index in draw(st.lists(st.integers(0, max(len(drawn) - 1, 0)), max_size=3)):
        if drawn:
            at = draw(st.integers(index, len(drawn)))
            drawn.insert(at, drawn[index])
    return drawn


@st.composite
def cuts(draw: st.DrawFn, records: list[Record]) -> list[list[Record]]:
    """``records`` cut into consecutive batches at random (an empty history: no batch)."""
    points = sorted(draw(st.sets(st.integers(1, max(len(records) - 1, 1)), max_size=5)))
    bounds = [0, *[p for p in points if p < len(records)], len(records)]
    return [records[a:b] for a, b in itertools.pairwise(bounds) if b > a]
