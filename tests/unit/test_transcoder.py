"""How the ledger stores an event: a JSON header, then the record's Avro body."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentledger.bootstrap import catalog
from infra.ledger.transcoder import AVRO, RecordTranscoder, _header_text, _instant
from tests.domain_helpers import proposal

pytestmark = pytest.mark.unit


@settings(max_examples=200, deadline=None)
@given(
    header=st.dictionaries(
        st.text(),
        st.text()
        | st.integers()
        | st.lists(st.text(), max_size=3)
        | st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))])),
        max_size=5,
    )
)
def test_header_text_is_what_json_dumps_gives(header: dict[str, Any]) -> None:
    """The reused C encoder writes exactly json.dumps(header, compact, instants tagged)."""
    assert _header_text(header) == json.dumps(header, default=_instant, separators=(",", ":"))


def test_an_event_state_round_trips_with_its_record_and_header() -> None:
    """Encode then decode gives back the header fields and an equal record."""
    transcoder = RecordTranscoder(catalog())
    record = proposal("k3")
    moment = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    state = {"timestamp": moment, "originator_topic": "domain.action:Action", "record": record}
    data = transcoder.encode(state)
    assert data[:1] == AVRO
    back = transcoder.decode(data)
    assert back == {
        "timestamp": moment,
        "originator_topic": "domain.action:Action",
        "record": record,
    }
