"""Wait for the ledger in tests (the services themselves run through agentledger.services)."""

from __future__ import annotations

from uuid import UUID

from agentledger.services import NotReached, wait_until
from domain.action import Action
from domain.action_state import Status
from infra.ledger.ledger import Ledger


def wait_status(the_ledger: Ledger, aid: UUID, *wanted: Status, timeout_s: float = 60.0) -> Action:
    """The action once it reaches one of ``wanted``; AssertionError on timeout."""
    try:
        return wait_until(the_ledger, aid, set(wanted), timeout_s)
    except NotReached as exc:
        raise AssertionError(str(exc)) from exc
