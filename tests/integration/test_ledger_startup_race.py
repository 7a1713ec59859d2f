"""Processes that open the same new ledger at once (a relay and a decider starting together)."""

from __future__ import annotations

import multiprocessing
import uuid

import psycopg
import pytest

from agentledger.bootstrap import ledger
from agentledger.settings import Settings

pytestmark = pytest.mark.integration


def _open(settings: Settings) -> str:
    ledger(settings).close()
    return "opened"


def test_four_processes_creating_one_ledgers_tables_at_once_all_start(settings: Settings) -> None:
    """Concurrent CREATE ... IF NOT EXISTS fails in PostgreSQL; the ledger serializes it, so every process starts."""
    mine = settings.model_copy(update={"ledger_name": f"R{uuid.uuid4().hex[:8]}"})
    try:
        with multiprocessing.get_context("spawn").Pool(4) as pool:
            assert pool.map(_open, [mine] * 4, chunksize=1) == ["opened"] * 4
    finally:
        prefix = mine.ledger_name.lower()
        with psycopg.connect(mine.database, autocommit=True) as conn:
            for suffix in ("events", "positions", "decisions", "policy_inputs"):
                conn.execute(f"DROP TABLE IF EXISTS {prefix}_{suffix}")
