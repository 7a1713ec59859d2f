"""Signed checkpoints of the ledger: what the store held when the relay had relayed it.

The relay keeps a running digest of the notification log as it relays it (each stored
event's id, aggregate, version and bytes) and, regularly, signs a checkpoint of it: the
last notification id, how many notifications there were, that digest and each
partition's chain head. Checkpoints go to a topic only the relay writes and to an
export directory, out of reach of every database role, so someone who rewrites the
store (even re-sealing its hash chains) cannot make the store agree with them again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from infra.provenance import SIGNATURE, SIGNER, Owner, RecordSigner
from infra.serde.errors import Unproven

TOPIC = "checkpoints.v1"
MAX_FILE_BYTES = 1_048_576
"""Largest checkpoint file read (one holds a chain head per partition)."""


def store_link(previous: str, notification: Notification) -> str:
    """The store digest after ``notification``, given the digest before it."""
    originator = notification.originator_id
    aggregate = originator.bytes if isinstance(originator, UUID) else str(originator).encode()
    digest = hashlib.sha256(previous.encode())
    digest.update(notification.id.to_bytes(8, "big"))
    digest.update(len(aggregate).to_bytes(4, "big") + aggregate)
    digest.update(notification.originator_version.to_bytes(8, "big"))
    digest.update(hashlib.sha256(notification.state).digest())
    return digest.hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """The ledger up to ``notification_id``, as the relay relayed it."""

    ledger: str
    notification_id: int
    notifications: int
    """How many notifications the store held in ``(since, notification_id]``."""
    store_digest: str
    """The running digest (:func:`store_link`) over those notifications."""
    since: int
    """The notification the digest starts after (0: the beginning of the store)."""
    at: str
    """When the checkpoint was made (ISO 8601)."""
    chains: dict[str, str] = field(default_factory=dict)
    """Each ``topic:partition``'s chain head."""

    def encode(self) -> bytes:
        """Canonical JSON (sorted keys, no spaces): the bytes the relay signs."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, payload: bytes) -> Checkpoint:
        """The checkpoint in ``payload``; :class:`Unproven` if it is not one."""
        try:
            data: dict[str, Any] = json.loads(payload)
            found = cls(**data)
        except (ValueError, TypeError, RecursionError) as exc:
            raise Unproven(f"not a checkpoint: {exc}") from exc
        kinds = zip(cls.__dataclass_fields__, (str, int, int, str, int, str, dict), strict=True)
        if not all(isinstance(getattr(found, name), kind) for name, kind in kinds):
            raise Unproven("not a checkpoint: a field of the wrong type")
        return found


def exported(checkpoint: Checkpoint, signer: RecordSigner, topic: str) -> bytes:
    """The export file of ``checkpoint`` (as signed for ``topic``): bytes, key id, signature."""
    payload = checkpoint.encode()
    signature = dict(signer.headers(topic, 0, checkpoint.ledger.encode(), payload))
    document = {
        "checkpoint": payload.decode(), "key_id": signature[SIGNER].decode(),
        "signature": base64.b64encode(signature[SIGNATURE]).decode(),
    }  # fmt: skip
    return json.dumps(document, indent=1).encode() + b"\n"


def read_export(data: bytes, owner: Owner, ledger: str) -> Checkpoint:
    """Ledger ``ledger``'s checkpoint in an export file, if the relay signed it.

    The signature is checked before the checkpoint is read; :class:`Unproven` otherwise.
    """
    try:
        document = json.loads(data)
        payload = str(document["checkpoint"]).encode()
        signature = base64.b64decode(str(document["signature"]), validate=True)
        headers = [(SIGNER, str(document["key_id"]).encode()), (SIGNATURE, signature)]
    except (ValueError, KeyError, TypeError, RecursionError, binascii.Error) as exc:
        raise Unproven(f"not a checkpoint file: {exc}") from exc
    owner.check(0, ledger.encode(), payload, headers)
    checkpoint = Checkpoint.decode(payload)
    if checkpoint.ledger != ledger:
        raise Unproven(f"a checkpoint of ledger {checkpoint.ledger!r}, not {ledger!r}")
    return checkpoint
