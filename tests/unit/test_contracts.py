"""The contracts and the domain records are one-to-one, documented, and lossless offline."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentledger.bootstrap import SCHEMAS_DIR, catalog
from infra.serde.catalog import SHARED, TOP_LEVEL, schema_files
from infra.serde.codec import instant_of, millis_of
from infra.serde.gate import missing_docs
from tests.strategies import records

pytestmark = pytest.mark.unit


def _own_fields(name: str) -> list[str]:
    schema = json.loads((SCHEMAS_DIR / f"agentledger.v1.{name}.avsc").read_text())
    return [field["name"] for field in schema["fields"]]


def test_every_record_class_has_exactly_one_schema_and_every_schema_a_class() -> None:
    """No orphans: the schema files are exactly the event, dead-letter and shared record classes plus Value."""
    classes = {cls.__name__ for cls in (*TOP_LEVEL, *SHARED)}
    assert set(schema_files(SCHEMAS_DIR)) == classes | {"Value"}
    assert len(TOP_LEVEL) == len({cls.__name__ for cls in TOP_LEVEL}) == 35


@pytest.mark.parametrize("cls", [*TOP_LEVEL, *SHARED], ids=lambda cls: cls.__name__)
def test_record_class_and_schema_have_the_same_fields_in_order(cls: Any) -> None:
    """Each class's fields are its schema's fields, same names, same order."""
    assert list(cls.model_fields) == _own_fields(cls.__name__)


def test_every_event_is_named_in_the_past_tense() -> None:
    """Event names state what happened (…ed / …Rejected / …Letter for the dead letter record)."""
    for cls in TOP_LEVEL:
        assert cls.__name__.endswith(("ed", "DeadLetter")), cls.__name__


def test_every_record_enum_and_field_has_a_doc() -> None:
    """The contracts document themselves: no record, enum or field without a doc."""
    for path in SCHEMAS_DIR.glob("*.avsc"):
        assert missing_docs(json.loads(path.read_text())) == [], path.name


def test_every_schema_sits_in_the_v1_namespace_under_its_own_name() -> None:
    """File name, namespace and record name agree: agentledger.v1.<Name>.avsc."""
    for name, path in schema_files(SCHEMAS_DIR).items():
        schema = json.loads(path.read_text())
        assert (schema["namespace"], schema["name"]) == ("agentledger.v1", name)


@pytest.mark.parametrize("cls", TOP_LEVEL, ids=lambda cls: cls.__name__)
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_record_round_trips_through_fastavro_unchanged(cls: Any, data: st.DataObject) -> None:
    """Mapper + fastavro, without the registry: what goes in comes back identical, types included."""
    record = data.draw(records(cls))
    contract = catalog()[cls.__name__]
    parsed = parse_schema(contract.schema)
    buffer = io.BytesIO()
    schemaless_writer(buffer, parsed, contract.to_avro(record))
    buffer.seek(0)
    back = contract.from_avro(schemaless_reader(buffer, parsed, parsed))  # type: ignore[arg-type]  # a record datum
    assert repr(back.model_dump()) == repr(record.model_dump())


@pytest.mark.parametrize("cls", TOP_LEVEL, ids=lambda cls: cls.__name__)
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_compiled_writer_and_reader_agree_with_fastavro_byte_for_byte(
    cls: Any, data: st.DataObject
) -> None:
    """Contract.write/read (compiled from the schema) and fastavro: same bytes both ways.

    What the contract writes, fastavro reads under the full schema (ids as UUIDs, instants
    as datetimes) into the same record, fastavro writes that datum back to the very same
    bytes, and the contract reads them back: no instant moves by a millisecond.
    """
    record = data.draw(records(cls))
    contract = catalog()[cls.__name__]
    parsed = parse_schema(contract.schema)
    written = contract.write(record)
    annotated = schemaless_reader(io.BytesIO(written), parsed, None)
    assert repr(contract.from_avro(annotated).model_dump()) == repr(record.model_dump())  # type: ignore[arg-type]  # a record datum
    buffer = io.BytesIO()
    schemaless_writer(buffer, parsed, annotated)
    assert buffer.getvalue() == written
    back = contract.read(buffer.getvalue())
    assert repr(back.model_dump()) == repr(record.model_dump())


@pytest.mark.parametrize(
    "moment",
    [
        datetime(1969, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2026, 11, 21, 12, 0, 0, 123_000, tzinfo=UTC),
        datetime(2026, 11, 21, 13, 0, 0, 7_000, tzinfo=timezone(timedelta(hours=1))),
    ],
)
def test_instants_map_to_epoch_milliseconds_exactly(moment: datetime) -> None:
    """millis_of and instant_of agree with fastavro's timestamp-millis, before the epoch too."""
    parsed = parse_schema({"type": "long", "logicalType": "timestamp-millis"})
    buffer = io.BytesIO()
    schemaless_writer(buffer, parsed, moment)
    buffer.seek(0)
    assert millis_of(moment) == schemaless_reader(buffer, parse_schema("long"), None)
    assert instant_of(millis_of(moment)) == moment


def test_schema_text_is_the_same_in_every_process() -> None:
    """The registered text and stored fingerprints do not depend on the interpreter's hash seed."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = (
        "from agentledger.bootstrap import catalog; print(''.join(c.schema_str for c in catalog()))"
    )
    texts = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(texts) == 1
