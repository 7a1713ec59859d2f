"""Which records a rebuild may read: its topics' owners', checked along each partition's chain.

Checking every record's signature would cost a rebuild ten times its time (60 us each).
On a chained topic a rebuild instead follows each partition's hash chain (each record
links to the one before, its link covering its bytes) and checks the signature of the
partition's last record only: that signature covers its link, which covers every record
before it. Any break (a record that does not link, a number that does not grow, a last
record without the owner's signature) means someone wrote there: the rebuild starts
again and checks every record's signature, skipping those the owner did not sign.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from confluent_kafka import Message

from infra.chain import HASH, PREVIOUS, link_bytes, number_in
from infra.provenance import header_values
from infra.provenance import message_headers as serde_headers
from infra.serde.errors import Unproven
from infra.serde.topic_serde import TopicSerde
from projections.store import UnusableRecord


class BrokenChain(UnusableRecord):
    """A record that does not continue its partition's chain, or a last one unsigned."""


@dataclass
class _Chain:
    head: bytes | None = None
    number: int = 0
    last: Message | None = None


class SignedReading:
    """Admits the records of ``by_topic``'s topics (by full name) their owners signed."""

    def __init__(
        self, by_topic: Mapping[str, TopicSerde], ends: Mapping[tuple[str, int], int], *,
        strict: bool,
    ) -> None:  # fmt: skip
        """``ends``: where each partition's read ends (by full topic name), fixed at the start.

        ``strict``: check every record's signature instead of following the chains.
        """
        self._by_topic, self._ends, self._strict = by_topic, ends, strict
        self._chains: dict[tuple[str, int], _Chain] = {}
        self.broken: str | None = None

    def beyond(self, message: Message) -> bool:
        """Whether ``message`` lies past its partition's end (the live projector takes it)."""
        place = (message.topic() or "", message.partition() or 0)
        return message.error() is None and (message.offset() or 0) >= self._ends.get(place, 0)

    def admits(self, message: Message) -> bool:
        """Whether to read ``message``: an end of partition, or a record its owner signed.

        On a chained topic, records are admitted as they continue their partition's chain
        (see :meth:`settle`); when strict, each one's signature is checked, and a record
        whose number does not grow (a genuine one relayed again) is refused as well.
        """
        if message.error() is not None:
            return True
        topic, partition = message.topic() or "", message.partition() or 0
        serde = self._by_topic[topic]
        owner = serde.owner
        if owner is None:
            return True
        chain = self._chains.setdefault((topic, partition), _Chain())
        if owner.chained and not self._strict:
            self._follow(message, chain)
            return True
        try:
            serde.prove(message)
        except Unproven:
            return False
        if owner.chained:
            number = number_in(header_values(serde_headers(message))) or 0
            if number <= chain.number:
                return False
            chain.number = number
        return True

    def _follow(self, message: Message, chain: _Chain) -> None:
        """Extend ``chain`` by ``message``; a break if it does not continue it.

        Headers are taken as a plain dict here (a name given twice keeps its last value):
        the record that closes the chain is checked strictly, and any other can only
        continue it by linking exactly as the signed one covers.
        """
        try:
            headers = cast("dict[str, bytes]", dict(message.headers() or ()))
            number, own = number_in(headers) or 0, headers[HASH]
            previous = headers.get(PREVIOUS) or b""
        except Exception:  # noqa: BLE001  # any header fault is a break, read again strictly
            number, own, previous = 0, b"", b""
        linked = number > 0 and link_bytes(previous, number, message.value() or b"") == own
        if not linked or number <= chain.number or chain.head not in {None, previous}:
            self._break(
                f"{message.topic()}[{message.partition()}]@{message.offset()} breaks its chain"
            )
        chain.head, chain.number, chain.last = own, number, message

    def _break(self, reason: str) -> None:
        self.broken = self.broken or reason

    def settle(self) -> None:
        """Check each chain's last record; :class:`BrokenChain` if one was broken or unsigned.

        Only then is every record admitted along a chain known to be its owner's.
        """
        for (topic, partition), chain in self._chains.items():
            if chain.last is None:
                continue
            try:
                self._by_topic[topic].prove(chain.last)
            except Unproven as exc:
                self._break(
                    f"the last record of {topic}[{partition}] is not its owner's: {exc.reason}"
                )
        if self.broken is not None:
            raise BrokenChain(self.broken)
