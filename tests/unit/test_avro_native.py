"""The C Avro module writes and reads what the pure Python code does, and refuses what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentledger.bootstrap import catalog
from domain.values import ResourceRef
from infra.native_build import AVRO
from infra.serde import avro_native, avro_reader, avro_writer
from infra.serde.avro_native import compile_native_reader, compile_native_writer
from infra.serde.catalog import TOP_LEVEL, Contract
from infra.serde.codec import named_types
from infra.serde.schema_walk import ValueTags
from infra.serde.value_codec import VALUE_RECORD
from tests.memory_helpers import bytes_kept
from tests.strategies import records

pytestmark = pytest.mark.unit


def _module() -> Any:  # the C module
    module = avro_native.native_module()
    assert module is not None, "the C module is not built: `make install` builds it"
    return module


def _readers(name: str) -> tuple[Any, Any]:
    schema = catalog()[name].schema
    named = named_types(schema)
    return avro_reader.compile_reader(schema, named), compile_native_reader(
        _module(), schema, named
    )


def _writers(name: str) -> tuple[Any, Any]:
    schema = catalog()[name].schema
    named = named_types(schema)
    return avro_writer.compile_writer(schema, named), compile_native_writer(
        _module(), schema, named
    )


def _outcome(run: Any, *args: Any) -> tuple[str, str]:  # a reader or a writer
    try:
        return "done", repr(run(*args))
    except Exception as exc:  # noqa: BLE001  # the kind of refusal is what is compared
        return "refused", type(exc).__name__


def _damaged(data: st.DataObject, written: bytearray, kinds: list[str]) -> bytearray:
    """``written`` truncated, extended, overwritten at one byte, or replaced by random bytes."""
    damage = data.draw(st.sampled_from(kinds))
    if damage == "truncate":
        del written[data.draw(st.integers(0, max(len(written) - 1, 0))) :]
    elif damage == "extend":
        written += data.draw(st.binary(min_size=1, max_size=8))
    elif damage == "overwrite" and written:
        at = data.draw(st.integers(0, len(written) - 1))
        written[at] = data.draw(st.integers(0, 255))
    else:
        written = bytearray(data.draw(st.binary(max_size=200)))
    return written


def _field_names(contract: Contract) -> list[str]:
    """The record's top-level fields, in schema order."""
    schema = contract.schema
    return [name for name, _ in avro_native.program(schema, named_types(schema))[1]]


def test_the_decoder_in_use_is_built_from_the_c_source_as_it_is() -> None:
    """`make install` built the module from this very source, and the catalog reads with it."""
    assert AVRO.is_current()
    assert AVRO.source_digest() == _module().SOURCE_SHA256
    reader = catalog()["ActionProposed"]._read  # noqa: SLF001  # which reader the contract holds
    assert getattr(reader, "func", None) is _module().decode


@pytest.mark.parametrize("cls", TOP_LEVEL, ids=lambda cls: cls.__name__)
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_both_readers_read_every_record_to_the_same_datum(cls: Any, data: st.DataObject) -> None:
    """Every contract: same values, same types (ids as text, instants as UTC datetimes)."""
    record = data.draw(records(cls))
    written = catalog()[cls.__name__].write(record)
    python, native = _readers(cls.__name__)
    assert repr(native(written, 0)) == repr(python(written, 0))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_both_readers_agree_on_damaged_data(data: st.DataObject) -> None:
    """Truncated, extended, overwritten or random bytes: the same datum or the same refusal."""
    cls = data.draw(st.sampled_from(TOP_LEVEL), label="record type")
    written = bytearray(catalog()[cls.__name__].write(data.draw(records(cls))))
    written = _damaged(data, written, ["truncate", "extend", "overwrite", "random"])
    python, native = _readers(cls.__name__)
    assert _outcome(native, bytes(written), 0) == _outcome(python, bytes(written), 0)


@pytest.mark.parametrize("cls", TOP_LEVEL, ids=lambda cls: cls.__name__)
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_a_picker_reads_the_fields_it_names_as_the_full_reader_does(
    cls: Any, data: st.DataObject
) -> None:
    """Every contract, any set of its fields: exactly those fields, with the full read's values."""
    contract = catalog()[cls.__name__]
    record = data.draw(records(cls))
    written = contract.write(record)
    fields = _field_names(contract)
    names = frozenset(data.draw(st.sets(st.sampled_from(fields)), label="names"))
    whole = contract.datum(written)
    picked = contract.picker(names)(written, 0)
    assert repr(picked) == repr({name: whole[name] for name in fields if name in names})


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_a_picker_refuses_what_breaks_the_record_shape_as_the_full_reader_does(
    data: st.DataObject,
) -> None:
    """Truncated, extended or random bytes: a picker of any fields refuses them as the reader does."""
    cls = data.draw(st.sampled_from(TOP_LEVEL), label="record type")
    contract = catalog()[cls.__name__]
    written = bytearray(contract.write(data.draw(records(cls))))
    written = _damaged(data, written, ["truncate", "extend", "random"])
    fields = _field_names(contract)
    names = frozenset(data.draw(st.sets(st.sampled_from(fields)), label="names"))
    full = _outcome(contract.datum, bytes(written), 0)
    picked = _outcome(contract.picker(names), bytes(written), 0)
    if full[0] == "done":
        assert picked[0] == "done"
    elif full[1] != "UnicodeDecodeError":  # a walk does not check text: it may go on, either way
        assert picked == full or picked[0] == "done"  # done: an enum index, not checked either


def test_a_picker_walks_over_bad_text_in_a_field_it_skips_and_refuses_it_in_one_it_reads() -> None:
    """Invalid UTF-8 in a skipped field is not read; in a picked one it is the reader's refusal."""
    contract = catalog()["ExternalStateObserved"]
    from consumers.observer.records import observation_of  # noqa: PLC0415
    from infra.connectors.base import Change  # noqa: PLC0415

    at = datetime(2026, 1, 1, tzinfo=UTC)
    ref = ResourceRef(system="billing", type="invoice", id="i-1")
    change = Change(
        sequence=3, resource=ref, version="vvvv", fields={}, deleted=False, changed_at=at
    )
    written = contract.write(observation_of("billing", change, at))
    broken = written.replace(b"vvvv", b"v\xffvv")  # the external version's text, no longer UTF-8
    picked = contract.picker(frozenset({"resource", "change_sequence"}))(broken, 0)
    assert picked == {"resource": {"system": "billing", "type": "invoice", "id": "i-1"},
                      "change_sequence": 3}  # fmt: skip
    with pytest.raises(UnicodeDecodeError):
        contract.picker(frozenset({"external_version"}))(broken, 0)
    with pytest.raises(UnicodeDecodeError):
        contract.datum(broken)


@pytest.mark.parametrize("text", ["\x00", "bill\x00ing", "ends\x00"])
def test_text_with_a_nul_character_is_refused_by_both_readers(text: str) -> None:
    """PostgreSQL's text and jsonb cannot hold U+0000: both readers refuse it, anywhere.

    So every consumer dead-letters such a record with the reason, instead of failing
    when it writes it (the live projector stopped on it before).
    """
    from consumers.observer.records import observation_of  # noqa: PLC0415
    from infra.connectors.base import Change  # noqa: PLC0415

    at = datetime(2026, 1, 1, tzinfo=UTC)
    ref = ResourceRef(system="billing", type="invoice", id="i-1")
    for change in (
        Change(sequence=3, resource=ref, version=text, fields={}, deleted=False, changed_at=at),
        Change(sequence=3, resource=ref, version="v", fields={"note": text}, deleted=False,
               changed_at=at),  # a field value
        Change(sequence=3, resource=ref, version="v", fields={text: 1}, deleted=False,
               changed_at=at),  # a field name
    ):  # fmt: skip
        written = catalog()["ExternalStateObserved"].write(observation_of("billing", change, at))
        for read in _readers("ExternalStateObserved"):
            with pytest.raises(ValueError, match="holds a NUL character"):
                read(written, 0)


@pytest.mark.parametrize("cls", TOP_LEVEL, ids=lambda cls: cls.__name__)
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_both_writers_write_every_record_to_the_same_bytes(cls: Any, data: st.DataObject) -> None:
    """Every contract, from the pydantic record and from its plain dict."""
    record = data.draw(records(cls))
    python, native = _writers(cls.__name__)
    assert native(record) == python(record)
    assert native(record.model_dump()) == python(record.model_dump())


JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
    st.binary(max_size=5), st.decimals(places=3), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2), st.uuids(), st.datetimes(),
)  # fmt: skip


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_both_writers_agree_on_records_that_do_not_fit(data: st.DataObject) -> None:
    """A field (or a field of a nested record) set to anything: the same bytes or the same refusal."""
    cls = data.draw(st.sampled_from(TOP_LEVEL), label="record type")
    datum = data.draw(records(cls)).model_dump()
    target = datum
    nested = [key for key, value in datum.items() if isinstance(value, dict)]
    inside: bool = data.draw(st.booleans(), label="inside a nested record")
    if nested and inside:
        target = datum[data.draw(st.sampled_from(nested))]
    if target:
        target[data.draw(st.sampled_from(sorted(target)))] = data.draw(JUNK, label="junk")
    python, native = _writers(cls.__name__)
    assert _outcome(native, datum) == _outcome(python, datum)


@pytest.mark.parametrize("number", [0, -1, 1, 63, -64, 64, 2**31, 2**63 - 1, -(2**63)])
def test_longs_read_back_at_every_width(number: int) -> None:
    """One to ten bytes of varint, both ends of the 64-bit range."""
    from infra.serde.avro_writer import compile_writer  # noqa: PLC0415

    written = compile_writer("long", {})(number)
    assert compile_native_reader(_module(), "long", {})(written, 0) == number
    assert avro_reader.compile_reader("long", {})(written, 0) == number


def test_a_varint_past_64_bits_is_refused_by_both_readers() -> None:
    """Ten bytes whose last one carries more than the 64th bit."""
    data = bytes([0xFF] * 9 + [0x02])
    for read in (
        compile_native_reader(_module(), "long", {}),
        avro_reader.compile_reader("long", {}),
    ):
        with pytest.raises(ValueError, match="longer than 64 bits"):
            read(data, 0)


def test_deeply_nested_values_are_a_recursion_error_not_a_crash() -> None:
    """A list inside a list, 100,000 deep: the C decoder stops as Python would."""
    named = named_types(catalog()["ActionProposed"].schema)
    read = compile_native_reader(_module(), VALUE_RECORD, named)
    listed = ValueTags.of(named[VALUE_RECORD]).listed
    nested = bytes([listed, 2] * 100_000)  # the list branch, one item, again and again
    with pytest.raises(RecursionError):
        read(nested, 0)


def test_writing_and_reading_leak_nothing_refusals_included() -> None:
    """20,000 rounds of good and bad records and bytes, read, picked and written: memory stays flat."""
    from bench.bench_serde import _proposal  # noqa: PLC0415  # a realistic proposal

    contract = catalog()["ActionProposed"]
    python_reader, read = _readers("ActionProposed")
    _python_writer, write = _writers("ActionProposed")
    record = _proposal()
    good = write(record)
    bad_record = record.model_dump() | {"confidence": "high"}
    inside = good.index(b"currency") + len(b"currency")  # refusals inside the parameters map
    truncated, bad_value = good[:inside], good[:inside] + bytes([0x7E]) + good[inside + 1 :]

    pick = contract.picker(frozenset({"agent_id", "resource"}))  # the parameters walked over

    def rounds(count: int) -> None:
        for _ in range(count):
            read(good, 0)
            pick(good, 0)
            with pytest.raises(ValueError):  # noqa: PT011  # the refusal's kind is all we need
                pick(truncated, 0)
            write(record)
            write(record.model_dump())
            for run, argument in ((write, bad_record), (read, truncated), (read, bad_value)):
                with pytest.raises((TypeError, ValueError)):
                    run(*((argument,) if run is write else (argument, 0)))

    assert repr(read(good, 0)) == repr(python_reader(good, 0))
    assert contract.read(good) == record
    grown = bytes_kept(rounds)  # every cache warmed first
    assert grown < 64_000, f"{grown} bytes kept after 20,000 rounds"


class _Meddler:
    """An id whose text, once asked for, changes the container it sits in."""

    def __init__(self, container: dict[str, Any], change: dict[str, Any]) -> None:
        self.container, self.change = container, change

    def __str__(self) -> str:
        self.container.clear()
        self.container.update(self.change)
        return "00000000-0000-0000-0000-000000000000"


def _both_writers(schema: Any) -> list[Any]:
    return [avro_writer.compile_writer(schema, {}), compile_native_writer(_module(), schema, {})]


def test_a_record_changed_while_it_is_written_is_refused_not_a_crash() -> None:
    """Fields that vanish under the writer: a KeyError from both writers."""
    uuid_type = {"type": "string", "logicalType": "uuid"}
    schema = {"type": "record", "name": "t.U", "fields": [
        {"name": "id", "type": uuid_type}, {"name": "n", "type": "long"},
    ]}  # fmt: skip
    for write in _both_writers(schema):
        datum: dict[str, Any] = {"n": 1}
        datum["id"] = _Meddler(datum, {})
        with pytest.raises(KeyError, match="'n'"):
            write(datum)


def test_a_map_that_grows_while_it_is_written_is_refused_not_a_crash() -> None:
    """Entries added under the writer: a RuntimeError from both writers, no short count."""
    schema = {"type": "map", "values": {"type": "string", "logicalType": "uuid"}}
    for write in _both_writers(schema):
        entries: dict[str, Any] = {}
        entries["a"] = _Meddler(entries, {f"k{index}": "x" for index in range(50)})
        with pytest.raises(RuntimeError, match="changed size"):
            write(entries)


@settings(max_examples=500, deadline=None)
@given(
    precision=st.integers(1, 40),
    scale=st.integers(0, 12),
    raw=st.one_of(
        st.binary(max_size=10),
        st.sampled_from([b"\x80" + b"\0" * 7, b"\x7f" + b"\xff" * 7, b"\xff" * 8, b"\xff", b"\0"]),
    ),
)
def test_decimals_of_every_width_read_the_same_through_both_readers(
    precision: int, scale: int, raw: bytes
) -> None:
    """Unscaled values up to 64 bits take the C path, wider or over-precise ones Python's."""
    schema = {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}
    data = bytes([len(raw) << 1]) + raw
    native = compile_native_reader(_module(), schema, {})(data, 0)
    assert repr(native) == repr(avro_reader.compile_reader(schema, {})(data, 0))
