"""A restarted observer never gives a number again, even one an aborted transaction used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from consumers.observer.chain import NUMBERS_PER_MS, ObservationChain, numbers_floor


def test_a_later_start_begins_above_every_number_an_earlier_start_could_give() -> None:
    """An earlier start numbering as fast as it can until now stays below the next floor."""
    started = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    chain = ObservationChain(number=numbers_floor(started))
    ran_ms = 1500
    for _ in range(ran_ms * (NUMBERS_PER_MS - 1)):  # faster than it ever signs
        chain.number += 1
    restarted = started + timedelta(milliseconds=ran_ms)
    assert numbers_floor(restarted) > chain.number


def test_numbers_fit_a_chain_link() -> None:
    """Links hold positive 63-bit numbers; the floor stays far below for centuries."""
    assert 0 < numbers_floor(datetime(2300, 1, 1, tzinfo=UTC)) < 2**63
