"""Keeping each key's newest payload: the C module's ``newest`` takes and keeps what Python does."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentledger.bootstrap import catalog
from consumers.observer.records import observation_of
from domain.values import ResourceRef
from infra.connectors.base import Change
from infra.serde import avro_native
from infra.serde.avro_native import (
    Keeping,
    Newest,
    compile_native_newest,
    compile_python_newest,
)
from infra.serde.codec import named_types
from projections.actual import KEY_PATHS, SEQUENCE
from tests.memory_helpers import bytes_kept
from tests.strategies import TEXT

pytestmark = pytest.mark.unit

AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
FRAME = b"\x00\x00\x00\x00\x07"
KEEPING = Keeping(FRAME, 400, KEY_PATHS, "/", SEQUENCE)


def _keepers(keeping: Keeping = KEEPING) -> tuple[Newest, Newest]:
    """The Python keeper and the C one, of observations."""
    module = avro_native.native_module()
    assert module is not None, "the C module is not built: `make install` builds it"
    schema = catalog()["ExternalStateObserved"].schema
    named = named_types(schema)
    return (
        compile_python_newest(schema, named, keeping),
        compile_native_newest(module, schema, named, keeping),
    )


def _payload(resource: str, sequence: int, version: str = "v") -> bytes:
    """An observation of ``billing/invoice/<resource>``, framed as ``FRAME`` says."""
    ref = ResourceRef(system="billing", type="invoice", id=resource)
    change = Change(
        sequence=sequence, resource=ref, version=version, fields={"amount": sequence},
        deleted=False, changed_at=AT,
    )  # fmt: skip
    return FRAME + catalog()["ExternalStateObserved"].write(observation_of("billing", change, AT))


@st.composite
def _payloads(draw: st.DrawFn) -> list[Any]:
    """Observations of three resources, equal sequences among them, and what is none."""
    drawn: list[Any] = []
    for _ in range(draw(st.integers(0, 12))):
        good = _payload(draw(st.sampled_from("abc")), draw(st.integers(0, 3)), draw(TEXT))
        kind = draw(st.sampled_from(["good"] * 6 + ["none", "frame", "truncate", "extend"]))
        if kind == "none":
            drawn.append(None)
        elif kind == "frame":  # another schema id
            drawn.append(b"\x00\x00\x00\x00\x08" + good[len(FRAME) :])
        elif kind == "truncate":
            drawn.append(good[: draw(st.integers(0, len(good) - 1))])
        elif kind == "extend":
            drawn.append(good + draw(st.binary(min_size=1, max_size=4)))
        else:
            drawn.append(good)
    return drawn


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(payloads=_payloads(), data=st.data())
def test_c_and_python_take_the_same_run_and_keep_the_same_payloads(
    payloads: list[Any], data: st.DataObject
) -> None:
    """From any start, both stop at the same payload and hold the same (sequence, payload)s."""
    start = data.draw(st.integers(0, len(payloads)))
    held_before = data.draw(
        st.dictionaries(st.sampled_from(["billing/invoice/a", "billing/invoice/b"]),
                        st.tuples(st.integers(0, 3), st.just(b"held")), max_size=2)
    )  # fmt: skip
    python, native = _keepers()
    by_python, by_c = dict(held_before), dict(held_before)
    stop = python(payloads, start, by_python)
    assert native(payloads, start, by_c) == stop
    assert by_c == by_python
    assert all(map(_readable, payloads[start:stop]))
    assert stop == len(payloads) or not _readable(payloads[stop])


def _readable(payload: Any) -> bool:
    """Whether ``payload`` is framed as ``FRAME`` says and its body reads whole."""
    if type(payload) is not bytes or not payload.startswith(FRAME):
        return False
    try:
        catalog()["ExternalStateObserved"].datum(payload, len(FRAME))
    except ValueError:
        return False
    return True


def test_the_first_of_equal_sequences_stays_and_a_higher_one_replaces_it() -> None:
    """b@2 then b@2 again (another version) then b@3: the first b@2, then b@3, is held."""
    first, again, newer = _payload("b", 2, "first"), _payload("b", 2, "again"), _payload("b", 3)
    for keeper in _keepers():
        held: dict[str, Any] = {}
        assert keeper([first, again], 0, held) == 2
        assert held == {"billing/invoice/b": (2, first)}
        assert keeper([newer, first], 0, held) == 2
        assert held == {"billing/invoice/b": (3, newer)}


def test_it_stops_at_the_first_payload_it_cannot_take_and_goes_on_from_the_next() -> None:
    """None, another frame, too large, cut short: each stops it; the caller starts after it."""
    a, b = _payload("a", 1), _payload("b", 1)
    small = Keeping(FRAME, len(a) - 1, KEY_PATHS, "/", SEQUENCE)
    for keeper in _keepers():
        held: dict[str, Any] = {}
        run = [a, None, b, b"\x00\x00\x00\x00\x08" + a[5:], a[:-3], b"", a]
        stops = [keeper(run, start, held) for start in (0, 2, 4, 5, 6)]
        assert stops == [1, 3, 4, 5, 7]
        assert held == {"billing/invoice/a": (1, a), "billing/invoice/b": (1, b)}
    for keeper in _keepers(small):
        assert keeper([a], 0, {}) == 0, "one byte over the limit"


def test_a_bad_spec_or_held_value_is_a_type_error_not_a_crash() -> None:
    """The C function checks what it is given before it reads a byte."""
    module = avro_native.native_module()
    assert module is not None
    _, native = _keepers()
    with pytest.raises(TypeError, match="held values must be"):
        native([_payload("a", 1)], 0, {"billing/invoice/a": "not a pair"})
    with pytest.raises(TypeError, match="spec"):
        module.newest(([], FRAME, 10, (("resource",),), "/", 7), [], 0, {})
    with pytest.raises(ValueError, match="outside the payloads"):
        native([], 1, {})


def test_keeping_the_newest_leaks_nothing() -> None:
    """20,000 rounds over good, bad and foreign payloads: memory stays flat."""
    _, native = _keepers()
    good, other = _payload("a", 1), _payload("b", 2)
    run = [good, other, good[:-2], None, b"\x00\x00\x00\x00\x08" + good[5:], good + b"\x01"]

    def rounds(count: int) -> None:
        for _ in range(count):
            held: dict[str, Any] = {}
            index = 0
            while index < len(run):
                index = native(run, index, held) + 1

    grown = bytes_kept(rounds)
    assert grown < 64_000, f"{grown} bytes kept after 20,000 rounds"
