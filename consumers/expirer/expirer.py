"""Fail approval requests closed when their deadline passes, across restarts.

The deadlines are rows of the ledger's approval index, written in the same
transaction as each ``ApprovalRequested``; the expirer only polls for due rows and
records ``ApprovalExpired`` through the aggregate, which refuses it if the request was
decided meanwhile. A stopped expirer loses nothing: on start it expires every request
that fell due while it was away.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from consumers.runtime.retry import GaveUp, RetryPolicy, Stopped
from domain.context import CommandContext
from domain.errors import ApprovalStillOpen, InvalidTransition
from infra.ledger.ledger import Ledger
from infra.ledger.traced import resumed_span
from infra.outages import DATABASE_OUTAGES
from infra.telemetry.metrics import APPROVALS

log = logging.getLogger("agentledger.expirer")


class Expirer:
    """Polls the approval index and expires what is due."""

    def __init__(
        self,
        ledger: Ledger,
        clock: Callable[[], datetime],
        context: Callable[[datetime], CommandContext],
        poll_s: float = 1.0,
    ) -> None:
        """Expire on ``ledger``, with time from ``clock``, every ``poll_s`` seconds."""
        if ledger.approvals is None:
            raise TypeError("the ledger was built without its approval index")
        self._ledger = ledger
        self._index = ledger.approvals
        self._clock = clock
        self._context = context
        self._poll_s = poll_s
        self._policy = RetryPolicy(waited_out=DATABASE_OUTAGES)

    def run_once(self) -> list[UUID]:
        """Expire every request due now; the ids actually expired."""
        now = self._clock()
        expired = []
        for action_id in self._index.due(now):
            try:
                with (
                    resumed_span(self._ledger, action_id, "expire approval"),
                    self._ledger.batch(self._context(now)) as tx,
                ):
                    tx.expire(action_id)
            except (InvalidTransition, ApprovalStillOpen) as exc:
                log.debug("not expiring %s: %s", action_id, exc)
                continue
            except IntegrityError:
                log.info("approval %s changed concurrently; looking again next round", action_id)
                continue
            except DATABASE_OUTAGES:
                raise  # an outage: this round ends here, the next poll tries again
            except Exception:  # one request that cannot expire must not hold up those behind it
                log.exception("cannot expire the approval for %s; trying it next round", action_id)
                continue
            log.info("approval for %s expired (fail closed)", action_id)
            APPROVALS.labels("expired").inc()
            expired.append(action_id)
        return expired

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set; outages are waited out, a failing round logged."""
        log.info("expirer running (poll every %.1fs)", self._poll_s)
        while not stop.is_set():
            try:
                self._policy.run(self.run_once, stop)
            except GaveUp as exc:
                log.error("expiry round failed; the next one tries again: %s", exc)  # noqa: TRY400  # each attempt was logged with its traceback
            except Stopped:
                return
            stop.wait(self._poll_s)
