"""Sign records as a topic's owner would, for tests that produce to internal topics directly."""

from __future__ import annotations

from agentledger.settings import Settings
from agentledger.signing_keys import record_signer
from consumers.observer.chain import ObservationChain
from infra.topics import topic_spec

_CHAINS: dict[str, ObservationChain] = {}
"""Each topic's chain, as this test process extends it (one producer per topic in a test)."""


def owners_headers(
    settings: Settings, topic: str, partition: int, key: bytes, payload: bytes
) -> list[tuple[str, str | bytes | None]]:
    """Headers that make ``payload`` pass as the owner's record on ``topic`` (unprefixed).

    On the observer's topic the record is chained after the last one this helper signed
    there. On the relay's topics it is signed off the chain (no relay takes it for its last
    record; a rebuild finds the chain broken there and reads record by record).
    """
    service, name = topic_spec(topic).signed_by, settings.topic(topic)
    assert service is not None, f"{topic} has no owner"
    signer = record_signer(settings, service)
    if not topic_spec(topic).chained or service == "relay":
        return [*signer.headers(name, partition, key, payload)]
    link, chained = _CHAINS.setdefault(name, ObservationChain()).extend(partition, payload)
    return [*chained, *signer.headers(name, partition, key, payload, link)]
