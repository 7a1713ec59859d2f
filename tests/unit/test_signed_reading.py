"""A rebuild admits only what a topic's owner signed, following each partition's chain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consumers.observer.chain import ObservationChain
from domain.signing import public_bytes
from infra.provenance import Owner, RecordSigner, message_headers
from infra.serde.errors import Unproven
from infra.serde.topic_serde import TopicSerde
from projections.signed_reading import BrokenChain, SignedReading

pytestmark = pytest.mark.unit

TOPIC = "t.observations.v1"
KEY = Ed25519PrivateKey.generate()
OWNER = Owner(TOPIC, "observer", public_bytes(KEY), chained=True)


@dataclass
class _Message:
    """What a rebuild reads of a consumed record."""

    offset_: int
    value_: bytes
    headers_: list[tuple[str, bytes]] = field(default_factory=list)

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self.offset_

    def key(self) -> bytes:
        return b"k"

    def value(self) -> bytes:
        return self.value_

    def headers(self) -> list[tuple[str, bytes]]:
        return self.headers_

    def error(self) -> None:
        return None


class _Serde:
    """The signature check of a topic's serde."""

    owner = OWNER

    def prove(self, message: Any) -> None:  # a message
        OWNER.check(0, b"k", message.value(), message_headers(message))


def _genuine(count: int) -> list[_Message]:
    chain, signer, found = ObservationChain(), RecordSigner(KEY), []
    for offset in range(count):
        payload = f"observation {offset}".encode()
        link, headers = chain.extend(0, payload)
        found.append(
            _Message(offset, payload, [*headers, *signer.headers(TOPIC, 0, b"k", payload, link)])
        )
    return found


def _reading(end: int, *, strict: bool = False) -> SignedReading:
    return SignedReading({TOPIC: cast("TopicSerde", _Serde())}, {(TOPIC, 0): end}, strict=strict)


def test_a_genuine_chain_is_admitted_and_settles() -> None:
    """Every record continues the chain; the last one's signature covers them all."""
    reading, records = _reading(5), _genuine(5)
    assert all(reading.admits(m) for m in records)  # type: ignore[arg-type]
    reading.settle()


def test_a_replayed_genuine_record_breaks_the_chain_and_is_refused_when_strict() -> None:
    """A copy of record 1 after record 3: followed, it breaks; checked strictly, refused."""
    records = _genuine(4)
    replayed = _Message(4, records[1].value_, records[1].headers_)
    reading = _reading(5)
    for message in [*records, replayed]:
        reading.admits(message)  # type: ignore[arg-type]
    with pytest.raises(BrokenChain, match="@4 breaks its chain"):
        reading.settle()
    strict = _reading(5, strict=True)
    assert [strict.admits(m) for m in [*records, replayed]] == [True] * 4 + [False]  # type: ignore[arg-type]


def test_a_forged_last_record_makes_the_rebuild_read_again() -> None:
    """A record chained to follow the last genuine one, without the owner's key."""
    records = _genuine(3)
    thief = RecordSigner(Ed25519PrivateKey.generate())
    chain = ObservationChain({0: records[-1].headers_[2][1].decode()}, 3)
    link, headers = chain.extend(0, b"forged")
    forged = _Message(3, b"forged", [*headers, *thief.headers(TOPIC, 0, b"k", b"forged", link)])
    reading = _reading(4)
    assert all(reading.admits(m) for m in [*records, forged])  # type: ignore[arg-type]
    with pytest.raises(BrokenChain, match="is not its owner's"):
        reading.settle()


def test_records_past_the_partitions_end_are_left_to_the_live_projector() -> None:
    """Offsets at or past the end fixed at the start are not read (nor can they dodge a check)."""
    reading, records = _reading(2), _genuine(3)
    assert [reading.beyond(m) for m in records] == [False, False, True]  # type: ignore[arg-type]


def test_a_header_that_cannot_be_read_breaks_the_chain() -> None:
    """Headers that raise (a name not UTF-8) are a break, not a crash."""

    class _Broken(_Message):
        def headers(self) -> list[tuple[str, bytes]]:
            raise SystemError("bad header name")

    reading = _reading(1)
    reading.admits(_Broken(0, b"x"))  # type: ignore[arg-type]
    with pytest.raises(BrokenChain):
        reading.settle()
    with pytest.raises(Unproven):
        _Serde().prove(_Message(0, b"x"))
