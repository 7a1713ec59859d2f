"""Generated policy inputs: every rule of the default bundle, alone and in combination."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

from infra.policy.bundle import load_bundle
from infra.policy.catalog import ActionCatalog, money_amounts

NOW_MS = 1_795_000_000_000
CATALOG = ActionCatalog.of(load_bundle(Path(__file__).resolve().parents[1] / "policies"))
DECLARED = CATALOG.declared()


def budget_document(
    limit: float | None, reserved: float = 0, settled: float = 0, month: float | None = None
) -> dict[str, Any]:
    """``agent.budget`` as the decider builds it: a day ``limit``, a ``month`` limit or none."""

    def period(window: str, cap: float | None) -> dict[str, Any]:
        available = None if cap is None else cap - settled - reserved
        return {"window": window, "limit": cap, "settled": settled, "reserved": reserved,
                "available": available}  # fmt: skip

    periods = {"day": period("2026-11-18", limit), "month": period("2026-11", month)}
    limited = [p["available"] for p in periods.values() if p["available"] is not None]
    return {"reserved": reserved, "available": min(limited, default=None), "periods": periods}


def generated_inputs(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` policy inputs from a seeded generator (the same list on every run)."""
    rng = random.Random(seed)  # noqa: S311  # test data, not cryptography
    return [_one(rng, index) for index in range(count)]


def _one(rng: random.Random, index: int) -> dict[str, Any]:
    resource, action_type = rng.choice(DECLARED)
    system, kind = resource.split("/")
    spec = CATALOG.spec(system, kind, action_type)
    assert spec is not None
    agent_id = f"agent-{rng.randrange(5)}"
    key = f"{system}/{kind}/{rng.randrange(20)}"
    scopes = rng.choice(
        [["*"], [f"{system}:*"], [f"{system}:{action_type}"], ["*"], ["other:*"], []]
    )
    limit = rng.choice([0, 50, 1000, 100_000, 100_000])
    reserved = rng.choice([0, 10, 49.5])
    parameters: dict[str, Any] = {"note": rng.choice(["", "ü", "x" * 30])}
    if rng.random() < 0.5:  # as a number or as the decimal string a billing system stores
        amount = rng.choice([0, 1, 999.99, 1000, 1000.01, 25_000, -5])
        parameters["amount"] = amount if rng.random() < 0.5 else f"{Decimal(str(amount)):.2f}"
    proposal: dict[str, Any] = {
        "action_id": f"00000000-0000-0000-0000-{index:012d}", "agent_id": agent_id,
        "idempotency_key": f"key-{index}",
        "resource": {"system": system, "type": kind, "id": key.rsplit("/", 1)[1], "key": key},
        "action_type": action_type, "parameters": parameters,
        "preconditions": rng.choice([{}, {"status": "open"}]),
        "confidence": rng.choice([0.0, 0.3, 0.69, 0.7, 0.71, 0.95, 1.0, 0.9, 0.9]),
    }  # fmt: skip
    if rng.random() < 0.6:
        proposal["estimated_cost"] = rng.choice([0, 0.5, 12.25, 49, 51, 2000])
    proposal["amounts"] = money_amounts(spec, parameters)
    return {
        "now": "2026-11-18T10:13:20+00:00",
        "now_ms": NOW_MS,
        "proposal": proposal,
        "action": spec.document(),
        "agent": {
            "id": agent_id, "owner": f"owner-{agent_id}", "scopes": scopes,
            "suspended": rng.random() < 0.1,
            "budget": budget_document(
                limit, reserved, rng.choice([0, 0, 20]), rng.choice([None, None, 60, 5000])
            ),
        },
        "resource": rng.choice([{"state": "unknown"}, {"state": "known", "version": "7", "fields": {}}]),
        "history": {
            "agent": _activity(rng, agent_id, key, rng.choice([0, 0, 3, 3, 119, 120, 130])),
            "resource": _activity(rng, agent_id, key, rng.choice([0, 0, 0, 9, 10, 12])),
            "agent_touched_resource": rng.random() < 0.7,
        },
    }  # fmt: skip


def _activity(rng: random.Random, agent_id: str, key: str, minute: int) -> dict[str, Any]:
    hour = minute + rng.choice([0, 5, 500])
    return {
        "last_minute": minute,
        "last_hour": hour,
        "recent": _recent(rng, agent_id, key, min(hour, 10)),
    }


def _recent(rng: random.Random, agent_id: str, key: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "at_ms": NOW_MS - rng.choice([1_000, 30_000, 59_999, 60_000, 120_000]),
            "agent_id": agent_id, "resource": key, "action_type": "contact.update",
            "outcome": rng.choice(["allow", "deny", "require_approval"]),
        }
        for _ in range(count)
    ]  # fmt: skip
