"""Walk the event store: each aggregate's chain, and the store against what the relay signed.

Someone with the database's superuser can delete, cut or rewrite events and re-seal the
hash chains, which anyone can compute. They cannot seal an event they wrote or changed
(the ledger's key is not in the database): each such event is named. Nor can they
rewrite what the relay signed:
its copy of each record on Kafka, and its checkpoints (the store's notification count and
digest up to a notification). So each stored record is compared with its signed copy, each
signed copy must still be in the store, and the store must match the latest checkpoint.
Every finding names the notification; the walk goes on after one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from eventsourcing.persistence import Notification

from domain.hashing import is_sealed
from infra.audit import AuditResult
from infra.audit.copies import FRAME, Copy, body_digest
from infra.checkpoints import Checkpoint, store_link
from infra.ledger.ledger import Ledger
from infra.ledger.seal import TamperedNotification

PAGE = 5000
UNKNOWN = "unknown"
"""The hash an event the audit could not trust had (the next one's link is not checked)."""


@dataclass
class _Walk:
    """What the walk has seen: each aggregate's last version and hash, the checkpoint's digest."""

    ledger: Ledger
    checkpoint: Checkpoint | None
    copies: dict[int, Copy]
    max_record_bytes: int
    last: dict[UUID | str, tuple[int, str | None]] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)
    checked: int = 0
    covered: int = 0
    digest: str = ""
    last_id: int = 0
    relayed_upto: int = 0
    """The relay has relayed every notification up to here (its copies and checkpoint say)."""
    head: int | None = None
    """The store's id sequence when the walk began; ids above it are checked again at the end."""
    beyond: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        covered = self.checkpoint.notification_id if self.checkpoint else 0
        self.relayed_upto = max([covered, *self.copies])

    def take(self, notification: Notification) -> None:
        self.last_id = notification.id
        if self.head is not None and notification.id > self.head:
            self.beyond.append(notification.id)
        checkpoint = self.checkpoint
        if checkpoint and checkpoint.since < notification.id <= checkpoint.notification_id:
            self.digest = store_link(self.digest, notification)
            self.covered += 1
        aggregate = f"{notification.originator_id} v{notification.originator_version}"
        where = f"notification {notification.id} (aggregate {aggregate})"
        if isinstance(notification, TamperedNotification):
            self.findings.append(f"{where}: {notification.reason}")
            self.copies.pop(notification.id, None)  # named already: not "deleted" as well
            self.last[notification.originator_id] = (notification.originator_version, UNKNOWN)
            return
        transcoder = self.ledger.transcoder
        if not transcoder.carries_record(notification.state):
            return
        self._against_copy(notification, where)
        problem = self._chain_problem(notification)
        if problem is None:
            self.checked += 1
        else:
            self.findings.append(f"{where}: {problem}")

    def _against_copy(self, notification: Notification, where: str) -> None:
        _, _, body = self.ledger.transcoder.split(notification.state)
        if len(body) + FRAME > self.max_record_bytes:
            return  # the relay dead-lettered it: no copy on the topics
        copy = self.copies.pop(notification.id, None)
        if copy is None:
            if notification.id <= self.relayed_upto:
                problem = "the relay passed it but never relayed it: inserted"
                self.findings.append(f"{where}: {problem}")
        elif body_digest(body) != copy.body_digest:
            self.findings.append(
                f"{where}: differs from the relay's signed copy ({copy}): modified or re-sealed"
            )

    def _chain_problem(self, notification: Notification) -> str | None:
        """What breaks the aggregate's chain at ``notification`` (it becomes the new head)."""
        try:
            record = self.ledger.transcoder.decode(notification.state)["record"]
        except Exception as exc:  # noqa: BLE001  # undecodable bytes are themselves the finding
            return f"does not decode ({exc}): modified"
        version, previous = self.last.get(notification.originator_id, (0, None))
        meta = record.metadata
        self.last[notification.originator_id] = (notification.originator_version, meta.hash)
        if notification.originator_version != version + 1:
            return f"follows version {version}: an event was deleted, inserted or reordered"
        if meta.aggregate_version != notification.originator_version:
            return f"its record says version {meta.aggregate_version}: reordered"
        if previous not in (meta.previous_hash, UNKNOWN):
            return "does not link to the event before it: deleted, inserted or reordered"
        if not is_sealed(record):
            return "content does not match its hash: modified"
        return None

    def close(self, head: int | None) -> None:
        """Ids the sequence never handed out, copies the store lost, the checkpoint."""
        for number in self.beyond:
            if head is not None and number > head:
                self.findings.append(
                    f"notification {number} is numbered beyond the {head} the store's sequence"
                    " handed out: put there by hand (the relay never relays it)"
                )
        for number, copy in sorted(self.copies.items()):
            gone = "cut" if number > self.last_id else "deleted"
            self.findings.append(
                f"notification {number} (the relay's signed copy: {copy}) is not in the store:"
                f" {gone}"
            )
        checkpoint = self.checkpoint
        if checkpoint is None:
            return
        signed = f"the checkpoint of {checkpoint.at} (notification {checkpoint.notification_id})"
        if self.last_id < checkpoint.notification_id:
            self.findings.append(
                f"the store ends at notification {self.last_id}, before {signed}: cut"
            )
        elif (self.covered, self.digest) != (checkpoint.notifications, checkpoint.store_digest):
            self.findings.append(
                f"the store's {self.covered} notifications up to {checkpoint.notification_id}"
                f" do not match {signed}, which counts {checkpoint.notifications}: changed"
            )


def audit_store(
    ledger: Ledger, *, checkpoint: Checkpoint | None = None,
    copies: dict[int, Copy] | None = None, max_record_bytes: int = 1_048_576,
) -> AuditResult:  # fmt: skip
    """Check every stored record: its chain, its signed copy, the latest checkpoint."""
    walk = _Walk(ledger, checkpoint, dict(copies or {}), max_record_bytes)
    walk.head = ledger.notifications_head()
    start = 1
    while True:
        page = ledger.recorder.select_notifications(start=start, limit=PAGE)
        for notification in page:
            walk.take(notification)
        if len(page) < PAGE:
            break
        start = page[-1].id + 1
    walk.close(ledger.notifications_head())
    return AuditResult(walk.checked, walk.findings)
