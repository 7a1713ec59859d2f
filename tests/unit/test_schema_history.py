"""Records stored under an earlier version of their contract stay readable after it changes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from infra.ledger.transcoder import AVRO, RecordTranscoder
from infra.serde.catalog import Catalog, canonical_json
from infra.serde.history import committed_versions
from tests.decider_helpers import proposal

pytestmark = pytest.mark.unit
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_every_schema_git_ever_committed_is_current_or_kept_in_history() -> None:
    """A contract change without its earlier schema in schemas/history fails here.

    Each committed version's expanded schema is a fingerprint some ledger may hold
    records under; the transcoder must know every one.
    """
    catalog = Catalog(SCHEMAS)
    known = {c.fingerprint for c in catalog} | {c.fingerprint for c in catalog.superseded}
    names = {c.name for c in catalog}
    missing = sorted(
        f"{name} {hashlib.sha256(canonical_json(schema).encode()).hexdigest()[:16]} ({commit})"
        for commit, schemas in committed_versions(SCHEMAS)
        for name, schema in schemas.items()
        if name in names
        and hashlib.sha256(canonical_json(schema).encode()).hexdigest()[:16] not in known
    )
    assert missing == []
    assert catalog.superseded, "the history holds ActionProposed before signatures"


def test_a_proposal_stored_before_signatures_reads_back_unsigned() -> None:
    """Written under the superseded schema, read under today's: the new fields are null."""
    catalog = Catalog(SCHEMAS)
    (before,) = [c for c in catalog.superseded if c.name == "ActionProposed"]
    record = proposal("bot", "k", signed_by=None)
    head = b'{"_schema":"' + before.fingerprint.encode() + b'"}'
    stored = AVRO + len(head).to_bytes(4, "big") + head + before.write(record)
    read = RecordTranscoder(catalog).decode(stored)["record"]
    assert read == record
    assert read.signature is None
    assert read.attestation is None
