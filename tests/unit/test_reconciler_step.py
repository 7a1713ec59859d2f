"""The reconciler step logs its counters once a minute of tick time, not once per alert."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consumers.reconciler.rules import Reconciler, Source
from consumers.reconciler.step import Counters, Input, Outputs, Step
from infra.provenance import RecordSigner
from infra.serde.topic_serde import TopicSerde

pytestmark = pytest.mark.unit

T0 = 1_795_262_400_000  # a tick's clock reading (ms)
SIGNER = RecordSigner(Ed25519PrivateKey.generate())


class _Quiet:
    """A reconciler with nothing due on any tick."""

    def tick(self, _source: Source, _now_ms: int) -> list[Any]:
        return []


async def _never(  # noqa: PLR0913  # the Send protocol's signature
    topic: str,
    key: bytes | None,
    value: bytes,
    partition: int,
    source: tuple[str, int],
    *,
    headers: list[tuple[str, bytes]] | None = None,
) -> object:
    sent = (topic, key, value, partition, source, headers)
    raise AssertionError(f"nothing is sent on a quiet tick, yet {sent} was")


def test_the_counters_are_logged_at_most_once_a_minute_of_tick_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Ticks at 0 s, 30 s, 60 s and 61 s log the summary twice: at 0 s and at 60 s."""
    counters = Counters()
    counters.records, counters.alerts = 12, 3
    serde = cast("TopicSerde", object())
    step = Step(
        cast("Reconciler", _Quiet()), {}, Outputs(serde, serde, _never, SIGNER), ticks_topic="ticks",
        partitions=6, consumer="reconciler", clock=lambda: datetime.now(UTC), counters=counters,
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="agentledger.reconciler"):
        for offset, seconds in enumerate((0, 30, 60, 61)):
            tick = Input("ticks", 0, offset, None, str(T0 + seconds * 1000).encode())
            asyncio.run(step(tick))
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["since start: 12 records, 3 alerts, 0 dead letters"] * 2


class _Ticked:
    """A reconciler recording each tick it gets."""

    def __init__(self) -> None:
        self.ticks: list[int] = []

    def tick(self, _source: Source, now_ms: int) -> list[Any]:
        self.ticks.append(now_ms)
        return []


def test_a_tick_that_is_not_a_time_or_is_ahead_of_the_clock_is_ignored() -> None:
    """Only the reconciler ticks, with its own clock: junk or a future tick never runs windows out."""
    reconciler = _Ticked()
    serde = cast("TopicSerde", object())
    now = datetime.now(UTC)
    step = Step(
        cast("Reconciler", reconciler), {}, Outputs(serde, serde, _never, SIGNER),
        ticks_topic="ticks", partitions=6, consumer="reconciler", clock=lambda: now,
        counters=Counters(),
    )  # fmt: skip
    now_ms = int(now.timestamp() * 1000)
    for offset, value in enumerate((b"x", str(now_ms + 3_600_000).encode(), str(now_ms).encode())):
        asyncio.run(step(Input("ticks", 0, offset, None, value)))
    assert reconciler.ticks == [now_ms]
