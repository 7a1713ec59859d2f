"""The hash chain the relay writes per partition: each record links to the one before."""

from __future__ import annotations

import hashlib

NOTIFICATION = "agentledger.notification_id"
PREVIOUS = "agentledger.chain_prev"
HASH = "agentledger.chain"


def link(previous: str | None, notification_id: int, payload: bytes) -> str:
    """The chain hash of a record given the previous record's hash in its partition."""
    return link_bytes((previous or "").encode(), notification_id, payload).decode()


def link_bytes(previous: bytes, notification_id: int, payload: bytes) -> bytes:
    """:func:`link` as the headers carry it (ASCII hex), from the previous one's header."""
    digest = hashlib.sha256(previous)
    digest.update(notification_id.to_bytes(8, "big"))
    digest.update(payload)
    return digest.hexdigest().encode()


def number_in(headers: dict[str, bytes]) -> int | None:
    """The notification id a record's headers give, if it is one a chain link can hold."""
    try:
        found = int(headers.get(NOTIFICATION, b""))
    except ValueError:
        return None
    return found if 0 < found < 2**63 else None
