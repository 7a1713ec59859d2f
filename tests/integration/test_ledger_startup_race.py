"""Deployments that make the same new ledger's tables at once (two `up` or test setups together)."""

from __future__ import annotations

import multiprocessing
import uuid

import psycopg
import pytest

from agentledger.bootstrap import ensure_ledger_tables, ledger
from agentledger.settings import Settings
from infra.stack.ledger_tables import drop_ledger
from tests.db_helpers import admin_url

pytestmark = pytest.mark.integration


def _open(settings: Settings) -> str:
    ensure_ledger_tables(settings)
    ledger(settings).close()
    return "opened"


def test_four_processes_creating_one_ledgers_tables_at_once_all_start(settings: Settings) -> None:
    """Concurrent CREATE ... IF NOT EXISTS fails in PostgreSQL; provisioning serializes it, so every process starts."""
    mine = settings.model_copy(update={"ledger_name": f"R{uuid.uuid4().hex[:8]}"})
    try:
        with multiprocessing.get_context("spawn").Pool(4) as pool:
            assert pool.map(_open, [mine] * 4, chunksize=1) == ["opened"] * 4
    finally:
        with psycopg.connect(admin_url(mine), autocommit=True) as conn:
            drop_ledger(conn, mine.ledger_name)
