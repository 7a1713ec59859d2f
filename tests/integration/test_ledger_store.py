"""The ledger's event store: what one transaction saves gets notification ids in store order."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from agentledger.bootstrap import system_context
from infra.ledger.ledger import Ledger
from tests.decider_helpers import register

pytestmark = pytest.mark.integration


def test_a_batch_gets_contiguous_notification_ids_in_version_order_per_aggregate(
    own_ledger: Ledger,
) -> None:
    """Hundreds of events of several aggregates in one transaction: ids without a gap, and each aggregate's versions ascending with them."""
    names = [f"agent-{index}" for index in range(5)]
    for name in names:
        register(own_ledger, name, budget=10_000)
    before = own_ledger.recorder.max_notification_id() or 0
    with own_ledger.batch(system_context()) as tx:
        for _ in range(60):
            for name in names:
                tx.agent(name).reserve(tx.ctx, action_id=uuid4(), amount=Decimal(1))
    notifications = own_ledger.recorder.select_notifications(before + 1, 1000)
    assert [n.id for n in notifications] == list(range(before + 1, before + 301))
    versions: dict[UUID, list[int]] = defaultdict(list)
    for notification in notifications:
        versions[UUID(str(notification.originator_id))].append(notification.originator_version)
    assert len(versions) == len(names)
    for seen in versions.values():
        assert seen == list(range(seen[0], seen[0] + 60))
