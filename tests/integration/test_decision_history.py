"""The decision history the decider hands to the policy: counts, newest entries, first contact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from agentledger.bootstrap import system_context
from infra.ledger.ledger import Ledger
from infra.policy.inputs import PolicyInput
from infra.policy.records import DecisionRecords, DecisionRow

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def _row(
    index: int, agent: str, resource: str, ago: timedelta, outcome: str = "allow"
) -> DecisionRow:
    return DecisionRow(
        action_id=UUID(int=index), agent_id=agent, resource_key=resource,
        action_type="contact.update", outcome=outcome, reasons=[], bundle_digest="b" * 64,
        bundle_version="1", input_digest=PolicyInput.of({"i": index}).digest,
        decided_at=NOW - ago,
    )  # fmt: skip


def test_history_counts_the_last_minute_and_hour_lists_the_newest_and_knows_first_contacts(
    own_ledger: Ledger,
) -> None:
    """Per agent and per resource: decisions in the last minute and hour, the newest first; denials are no contact."""
    records = DecisionRecords(own_ledger.recorder)  # type: ignore[arg-type]  # the LedgerRecorder
    rows = [
        _row(1, "a", "crm/contact/1", timedelta(seconds=10)),
        _row(2, "a", "crm/contact/1", timedelta(seconds=50)),
        _row(3, "a", "crm/contact/2", timedelta(minutes=5)),
        _row(4, "a", "crm/contact/1", timedelta(hours=2)),  # older than an hour: not counted
        _row(5, "b", "crm/contact/1", timedelta(seconds=30)),
        _row(6, "b", "crm/contact/3", timedelta(seconds=5), outcome="deny"),
    ]
    with own_ledger.batch(system_context()) as tx:
        tx.uow.side_writes.extend(
            records.writes([(r, PolicyInput.of({"i": r.action_id.int})) for r in rows])
        )
    now_ms = int(NOW.timestamp() * 1000)
    pairs = {("a", "crm/contact/1"), ("a", "crm/contact/3"), ("b", "crm/contact/3")}
    history = records.history({"a", "b", "c"}, pairs, now_ms=now_ms, limit=2)
    by_agent = {k: (v.last_minute, v.last_hour) for k, v in history.by_agent.items()}
    by_resource = {k: (v.last_minute, v.last_hour) for k, v in history.by_resource.items()}
    assert by_agent == {"a": (2, 3), "b": (2, 2)}
    assert by_resource == {"crm/contact/1": (3, 3), "crm/contact/3": (1, 1)}
    assert [e.at_ms for e in history.by_agent["a"].recent] == [
        now_ms - 10_000, now_ms - 50_000,
    ]  # fmt: skip
    assert [e.agent_id for e in history.by_resource["crm/contact/1"].recent] == ["a", "b"]
    assert history.touched == {("a", "crm/contact/1")}
    without = records.history({"a"}, {("a", "crm/contact/1")}, now_ms=now_ms, limit=0)
    assert all(not v.recent for v in without.by_agent.values())
