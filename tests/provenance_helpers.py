"""Sign records as a topic's owner would, for tests that produce to internal topics directly."""

from __future__ import annotations

from agentledger.settings import Settings
from agentledger.signing_keys import record_signer
from infra.chain import HASH
from infra.topics import topic_spec


def owners_headers(
    settings: Settings, topic: str, partition: int, key: bytes, payload: bytes
) -> list[tuple[str, str | bytes | None]]:
    """Headers that make ``payload`` pass as the owner's record on ``topic`` (unprefixed).

    On the relay's topics the record gets a chain link of its own (the relay's chain is not
    followed: readers check the signature over the link, the audit the chain).
    """
    service, name = topic_spec(topic).signed_by, settings.topic(topic)
    assert service is not None, f"{topic} has no owner"
    signer = record_signer(settings, service)
    if service != "relay":
        return [*signer.headers(name, partition, key, payload)]
    link = "00" * 32
    return [(HASH, link.encode()), *signer.headers(name, partition, key, payload, link)]
