"""Walk the event store: each aggregate's events must chain, in version order, unmodified."""

from __future__ import annotations

from uuid import UUID

from domain.hashing import is_sealed
from infra.audit import AuditResult
from infra.ledger.ledger import Ledger

PAGE = 5000


def audit_store(ledger: Ledger) -> AuditResult:
    """Check every stored record: version sequence, link to its predecessor, own hash."""
    last: dict[UUID | str, tuple[int, str | None]] = {}
    checked, start = 0, 1
    while True:
        page = ledger.recorder.select_notifications(start=start, limit=PAGE)
        for notification in page:
            aggregate = f"{notification.originator_id} v{notification.originator_version}"
            where = f"notification {notification.id} (aggregate {aggregate})"
            if not ledger.transcoder.carries_record(notification.state):
                continue
            try:
                record = ledger.transcoder.decode(notification.state)["record"]
            except Exception as exc:  # noqa: BLE001  # undecodable bytes are themselves the finding
                return AuditResult(checked, [f"{where}: does not decode ({exc}): modified"])
            version, previous = last.get(notification.originator_id, (0, None))
            meta = record.metadata
            if notification.originator_version != version + 1:
                problem = f"follows version {version}: an event was deleted, inserted or reordered"
                return AuditResult(checked, [f"{where}: {problem}"])
            if meta.aggregate_version != notification.originator_version:
                problem = f"its record says version {meta.aggregate_version}: reordered"
                return AuditResult(checked, [f"{where}: {problem}"])
            if meta.previous_hash != previous:
                problem = "does not link to the event before it: deleted, inserted or reordered"
                return AuditResult(checked, [f"{where}: {problem}"])
            if not is_sealed(record):
                return AuditResult(checked, [f"{where}: content does not match its hash: modified"])
            last[notification.originator_id] = (notification.originator_version, meta.hash)
            checked += 1
        if len(page) < PAGE:
            return AuditResult(checked)
        start = page[-1].id + 1
