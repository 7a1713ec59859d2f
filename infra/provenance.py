"""Who wrote a record on an internal topic: its owner's Ed25519 signature in its headers.

A Kafka consumer never learns the producer's principal, and a stolen credential writes
as well as the service it belongs to. So the service that owns a topic (the relay, the
observer, the reconciler) signs each record it produces, and every reader checks the
signature against that service's public key before acting on the record. The signature
covers the topic's unprefixed name, the partition, the key, the record's bytes and its
chain link (the relay's, empty elsewhere), so a genuine record copied to another
topic, partition or key, or with another chain position, does not verify.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from confluent_kafka import Message
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from nacl.bindings import crypto_sign, crypto_sign_open, crypto_sign_seed_keypair
from nacl.exceptions import BadSignatureError

from domain.signing import key_id
from infra.chain import HASH, PREVIOUS, link_bytes, number_in
from infra.serde.errors import Unproven

SIGNER = "agentledger.signer"
"""Header: the key id of the service that signed the record."""
SIGNATURE = "agentledger.signature"
"""Header: the 64-byte Ed25519 signature."""
PURPOSE = b"agentledger.record.v1"
SIGNATURE_BYTES = 64

Headers = Mapping[str, bytes | str | None] | Iterable[tuple[str, bytes | str | None]] | None


def signed_bytes(topic: str, partition: int, key: bytes | None, payload: bytes, link: str) -> bytes:
    """What the owner signs: each part length-prefixed, so no two records sign alike."""
    parts = (
        PURPOSE, topic.encode(), partition.to_bytes(4, "big"), key or b"", link.encode(),
        hashlib.sha256(payload).digest(),
    )  # fmt: skip
    return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


Signable = tuple[str, int, bytes | None, bytes, str]
"""One record to sign: topic (unprefixed), partition, key, bytes, chain link."""


class RecordSigner:
    """Signs the records one service produces (libsodium: a third of ``cryptography``'s time)."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        """Sign with ``key``."""
        seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        self.public_key, self._secret = crypto_sign_seed_keypair(seed)
        self.key_id = key_id(self.public_key)
        self._signer = self.key_id.encode()

    def headers(
        self, topic: str, partition: int, key: bytes | None, payload: bytes, link: str = ""
    ) -> list[tuple[str, bytes]]:
        """The signature headers of one record (``topic`` unprefixed)."""
        message = signed_bytes(topic, partition, key, payload, link)
        signature = crypto_sign(message, self._secret)[:SIGNATURE_BYTES]
        return [(SIGNER, self._signer), (SIGNATURE, signature)]


@dataclass(frozen=True)
class Owner:
    """The service that owns a topic, and its public key: only its records are acted on."""

    topic: str
    """The topic's unprefixed name (what the signature covers)."""
    service: str
    public_key: bytes
    chained: bool = False
    """Whether the owner chains the topic's records (the relay): the link is signed too."""

    @property
    def key_id(self) -> str:
        """The owner's key id, as its records name it."""
        return key_id(self.public_key)

    def check(
        self, partition: int, key: bytes | None, payload: bytes | None, headers: Headers
    ) -> int | None:
        """Return if the record is the owner's as it stands, else raise :class:`Unproven`.

        Returns the record's number on its owner's chain (``None`` if it carries no link).
        """
        found = header_values(headers)
        link = found.get(HASH, b"").decode(errors="replace") if self.chained else ""
        signer, signature = found.get(SIGNER), found.get(SIGNATURE)
        if signer is None or signature is None:
            raise Unproven(
                f"not signed: a forgery, or another producer's (only the {self.service}'s"
                f" records are taken from {self.topic})"
            )
        if signer != self.key_id.encode():
            raise Unproven(
                f"signed by {signer.decode(errors='replace')!r}, not by the {self.service}"
                f" ({self.key_id}), which owns {self.topic}: a forgery"
            )
        message = signed_bytes(self.topic, partition, key, payload or b"", link)
        try:
            crypto_sign_open(signature + message, self.public_key)
        except (BadSignatureError, ValueError):
            raise Unproven(
                f"the {self.service}'s signature does not match this record: forged, altered,"
                " or moved from another topic, partition or key"
            ) from None
        return _chain_number(found, payload or b"") if link else None


def _chain_number(found: dict[str, bytes], payload: bytes) -> int:
    """The number a signed link binds (the link covers the previous link, number and bytes)."""
    number = number_in(found)
    if number is None or link_bytes(found.get(PREVIOUS, b""), number, payload) != found[HASH]:
        raise Unproven("its chain headers do not match its signed link: altered")
    return number


def message_headers(message: Message) -> Headers:
    """A consumed message's headers; :class:`Unproven` if they cannot be read.

    confluent-kafka raises ``SystemError`` for a header name that is not UTF-8.
    """
    try:
        return message.headers()
    except Exception as exc:
        raise Unproven(f"its headers cannot be read: {type(exc).__name__}") from exc


def header_values(headers: Headers) -> dict[str, bytes]:
    """Headers by name; one of ours given twice is :class:`Unproven` (which one would count?)."""
    if headers is None:
        return {}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    found: dict[str, bytes] = {}
    for name, value in pairs:
        if name in found and name.startswith("agentledger."):
            raise Unproven(f"header {name} appears twice")
        found[name] = value.encode() if isinstance(value, str) else (value or b"")
    return found
