"""A checkpoint is believed only as the relay signed it; the store digest sees any change."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.persistence import Notification

from consumers.relay.position import Position
from domain.signing import public_bytes
from infra.checkpoints import Checkpoint, exported, read_export, store_link
from infra.provenance import Owner, RecordSigner
from infra.serde.errors import Unproven

pytestmark = pytest.mark.unit

KEY = Ed25519PrivateKey.generate()
TOPIC = "t.checkpoints.v1"
RELAY = Owner(TOPIC, "relay", public_bytes(KEY))
CHECKPOINT = Checkpoint("Ledger", 42, 40, "ab" * 32, 2, "2026-12-05T16:00:00+00:00", {"t:0": "cd"})


def test_an_exported_checkpoint_reads_back_as_signed() -> None:
    """The export file holds the checkpoint, the relay's key id and its signature."""
    assert (
        read_export(exported(CHECKPOINT, RecordSigner(KEY), TOPIC), RELAY, "Ledger") == CHECKPOINT
    )


def test_an_edited_or_foreign_checkpoint_file_is_unproven() -> None:
    """A count or digest changed after signing, or a checkpoint signed by another key, is refused."""
    document = json.loads(exported(CHECKPOINT, RecordSigner(KEY), TOPIC))
    document["checkpoint"] = document["checkpoint"].replace(
        '"notifications":40', '"notifications":39'
    )
    with pytest.raises(Unproven, match="signature does not match"):
        read_export(json.dumps(document).encode(), RELAY, "Ledger")
    with pytest.raises(Unproven, match="not by the relay"):
        read_export(
            exported(CHECKPOINT, RecordSigner(Ed25519PrivateKey.generate()), TOPIC), RELAY, "Ledger"
        )
    with pytest.raises(Unproven, match="not a checkpoint file"):
        read_export(b"{}", RELAY, "Ledger")


def _notification(number: int, state: bytes, version: int = 1) -> Notification:
    return Notification(id=number, originator_id=AGGREGATE, originator_version=version,
                        topic="t", state=state)  # fmt: skip


AGGREGATE = uuid4()


def test_the_store_digest_changes_with_any_field_of_any_notification() -> None:
    """Id, version or bytes of one notification: another digest."""
    first = store_link("", _notification(1, b"a"))
    assert first == store_link("", _notification(1, b"a"))
    assert first != store_link("", _notification(2, b"a"))
    assert first != store_link("", _notification(1, b"b"))
    assert first != store_link("", _notification(1, b"a", version=2))
    assert store_link(first, _notification(2, b"a")) != store_link("", _notification(2, b"a"))


def test_a_position_written_before_the_digest_starts_it_there() -> None:
    """An older position (no digest) covers nothing before itself; a new one round-trips."""
    old = Position.decode(json.dumps({"notification_id": 7, "chains": {}}).encode())
    assert (old.notification_id, old.notifications, old.store_digest, old.since) == (7, 0, "", 7)
    moved = old.followed_by([_notification(8, b"x"), _notification(9, b"y")])
    assert (moved.notification_id, moved.notifications, moved.since) == (9, 2, 7)
    assert Position.decode(moved.encode()) == moved
