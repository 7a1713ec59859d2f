"""The limits a proposal keeps before it is decided, whoever sent it (the API or Kafka).

They are checked at intake and not in the event models, so that a record stored before a
limit existed still loads. The API refuses a breach with 422; the decider records it as a
``malformed`` rejection naming the field (text holding a NUL never gets that far from
Kafka: the Avro reader refuses it, and the record becomes a dead letter).
"""

from __future__ import annotations

import re
from decimal import Decimal

from domain.events import ActionProposed

MAX_DEPTH = 32
"""Containers a field value may nest, counting the parameters object itself."""

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def text_problem(text: str, where: str) -> str | None:
    """Why ``text`` cannot be stored (a NUL, or half of a UTF-16 pair), or ``None``."""
    found = _BAD_TEXT.search(text)
    if found is None:
        return None
    what = "a NUL character" if found.group() == "\x00" else "a lone surrogate (not Unicode)"
    return f"{where} holds {what} at position {found.start()}"


def value_problem(value: object, where: str, max_depth: int = MAX_DEPTH) -> str | None:
    """The first breach in a JSON-like ``value``: nesting beyond ``max_depth``, or bad text.

    Walks with a stack, not recursion, so that no depth can exhaust the interpreter's.
    """
    pending: list[tuple[object, str, int]] = [(value, where, 1)]
    while pending:
        item, path, depth = pending.pop()
        if isinstance(item, str):
            problem = text_problem(item, path)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                return f"{path} nests deeper than {max_depth} levels"
            problem = None
            entries = item.items() if isinstance(item, dict) else enumerate(item)
            for key, inner in entries:
                if isinstance(key, str) and (problem := text_problem(key, f"{path} key")):
                    break
                pending.append((inner, f"{path}.{key}", depth + 1))
        else:
            problem = None
        if problem is not None:
            return problem
    return None


def proposal_problem(proposal: ActionProposed) -> str | None:
    """The first limit ``proposal`` breaks, named with its field, or ``None``."""
    cost = proposal.estimated_cost
    if cost is not None and (cost < Decimal(0) or cost.is_signed()):  # -0 included
        return f"estimated_cost must not be negative (got {cost})"
    for where in ("idempotency_key", "plan_id", "rationale"):
        text = getattr(proposal, where)
        if text is not None and (problem := text_problem(text, where)):
            return problem
    for where in ("parameters", "preconditions"):
        if problem := value_problem(getattr(proposal, where), where):
            return problem
    return None
