"""``when(record)`` runs the handler registered for the record's type, on its own instance."""

from __future__ import annotations

import pytest

from domain.dispatching import recordmethod

pytestmark = pytest.mark.unit


class _Base:
    pass


class _Child(_Base):
    pass


class _Other:
    pass


class _State:
    def __init__(self) -> None:
        self.seen: list[str] = []

    @recordmethod
    def when(self, record: object) -> None:
        self.seen.append(f"default {type(record).__name__}")

    @when.register
    def _(self, record: _Base) -> None:
        self.seen.append(f"base {type(record).__name__}")


def test_the_handler_for_the_records_type_or_its_nearest_base_runs_on_that_instance() -> None:
    """Registered type, subclass of it, anything else: each handler once, on the right object."""
    first, second = _State(), _State()
    first.when(_Base())
    first.when(_Child())
    second.when(_Other())
    assert first.seen == ["base _Base", "base _Child"]
    assert second.seen == ["default _Other"]
