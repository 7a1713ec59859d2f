"""Records on internal topics are acted on only with a valid signature of the topic's owner."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domain.signing import public_bytes
from infra.chain import HASH, NOTIFICATION, PREVIOUS, link, number_in
from infra.provenance import SIGNATURE, SIGNER, Owner, RecordSigner
from infra.serde.errors import Unproven

pytestmark = pytest.mark.unit

RELAY_KEY = Ed25519PrivateKey.generate()
OBSERVER_KEY = Ed25519PrivateKey.generate()
RELAY = RecordSigner(RELAY_KEY)
OBSERVER = RecordSigner(OBSERVER_KEY)
ACTIONS = Owner("actions.v1", "relay", public_bytes(RELAY_KEY), chained=True)
OBSERVATIONS = Owner("observations.v1", "observer", public_bytes(OBSERVER_KEY))
KEY, PAYLOAD = b"crm/contact/1", b"\x00\x00\x00\x00\x07avro body"
LINK = link(None, 7, PAYLOAD)
CHAIN = [(NOTIFICATION, b"7"), (PREVIOUS, b"")]


def _relayed(
    payload: bytes = PAYLOAD, partition: int = 2, key: bytes = KEY
) -> list[tuple[str, bytes]]:
    signature = RELAY.headers("actions.v1", partition, key, payload, LINK)
    return [*CHAIN, (HASH, LINK.encode()), *signature]


def test_the_owners_record_as_it_was_signed_is_taken() -> None:
    """The relay's record (with its chain link) and the observer's record both verify."""
    assert ACTIONS.check(2, KEY, PAYLOAD, _relayed()) == 7  # its number
    OBSERVATIONS.check(0, KEY, PAYLOAD, OBSERVER.headers("observations.v1", 0, KEY, PAYLOAD))
    OBSERVATIONS.check(0, KEY, PAYLOAD, dict(OBSERVER.headers("observations.v1", 0, KEY, PAYLOAD)))


def test_an_unsigned_record_is_unproven() -> None:
    """A record with chain headers computed by anyone, but no signature, is a forgery."""
    with pytest.raises(Unproven, match="not signed: a forgery"):
        ACTIONS.check(2, KEY, PAYLOAD, [(HASH, LINK.encode())])
    with pytest.raises(Unproven, match="not signed"):
        ACTIONS.check(2, KEY, PAYLOAD, None)


def test_another_services_signature_does_not_count_on_a_topic_it_does_not_own() -> None:
    """The observer's key (or a stolen credential's own key) cannot sign for the relay."""
    headers = [(HASH, LINK.encode()), *OBSERVER.headers("actions.v1", 2, KEY, PAYLOAD, LINK)]
    with pytest.raises(Unproven, match=r"not by the relay .*which owns actions\.v1: a forgery"):
        ACTIONS.check(2, KEY, PAYLOAD, headers)


def test_a_signer_header_naming_the_owner_over_someone_elses_signature_is_unproven() -> None:
    """Claiming the relay's key id does not help: the signature is checked with its key."""
    forged = dict(OBSERVER.headers("actions.v1", 2, KEY, PAYLOAD, LINK))
    headers = [
        (HASH, LINK.encode()),
        (SIGNER, RELAY.key_id.encode()),
        (SIGNATURE, forged[SIGNATURE]),
    ]
    with pytest.raises(Unproven, match="signature does not match"):
        ACTIONS.check(2, KEY, PAYLOAD, headers)


@pytest.mark.parametrize(
    ("partition", "key", "payload", "link"),
    [
        (2, KEY, PAYLOAD + b"!", LINK),
        (3, KEY, PAYLOAD, LINK),
        (2, b"crm/contact/2", PAYLOAD, LINK),
        (2, KEY, PAYLOAD, "cd" * 32),
    ],
    ids=["altered bytes", "another partition", "another key", "another chain link"],
)
def test_a_genuine_signature_does_not_cover_an_altered_or_moved_record(
    partition: int, key: bytes, payload: bytes, link: str
) -> None:
    """The signature binds the record's bytes, its partition, its key and its chain link."""
    signature = RELAY.headers("actions.v1", 2, KEY, PAYLOAD, LINK)
    headers = [*CHAIN, (HASH, link.encode()), *signature]
    with pytest.raises(Unproven, match="signature does not match this record"):
        ACTIONS.check(partition, key, payload, headers)


def test_a_record_signed_for_another_topic_is_unproven_there() -> None:
    """The relay's record on agents.v1, copied to actions.v1, does not verify."""
    headers = [(HASH, LINK.encode()), *RELAY.headers("agents.v1", 2, KEY, PAYLOAD, LINK)]
    with pytest.raises(Unproven, match="moved from another topic"):
        ACTIONS.check(2, KEY, PAYLOAD, headers)


def test_a_signature_header_given_twice_is_unproven() -> None:
    """Two signatures on one record: neither is taken."""
    headers = [*_relayed(), (SIGNATURE, b"\x00" * 64)]
    with pytest.raises(Unproven, match="appears twice"):
        ACTIONS.check(2, KEY, PAYLOAD, headers)


@pytest.mark.parametrize("raw", [b"", b"x", b"-5", b"0", str(2**64).encode()])
def test_a_notification_id_no_chain_link_can_hold_is_none(raw: bytes) -> None:
    """Readers treat it as a break instead of failing on it (a link holds 8 bytes)."""
    assert number_in({NOTIFICATION: raw}) is None


def test_a_notification_id_a_chain_link_can_hold_is_read() -> None:
    """A positive 63-bit id."""
    assert number_in({NOTIFICATION: b"7"}) == 7


@pytest.mark.parametrize(
    "chain",
    [[(NOTIFICATION, b"8"), (PREVIOUS, b"")], [(NOTIFICATION, b"7"), (PREVIOUS, b"ab")], []],
    ids=["another number", "another previous link", "no number"],
)
def test_chain_headers_the_signed_link_does_not_bind_are_unproven(
    chain: list[tuple[str, bytes]],
) -> None:
    """The number a reader orders records by is the one the signed link covers."""
    headers = [*chain, (HASH, LINK.encode()), *RELAY.headers("actions.v1", 2, KEY, PAYLOAD, LINK)]
    with pytest.raises(Unproven, match="do not match its signed link"):
        ACTIONS.check(2, KEY, PAYLOAD, headers)
