"""Who may do what in PostgreSQL: the one role table, and the statements that grant it.

Each service logs in as its own role and holds only the grants its work needs. No
service role owns anything: the event store belongs to ``ledger_owner``, the billing
system of record to ``billing_owner`` and the registry's schema to ``registry``. The
owners cannot log in; only the deployment (``agentledger up``, through the server's
private socket) acts as them, to create tables. The event store is append-only for
everyone who can log in: SELECT and INSERT, never UPDATE, DELETE or TRUNCATE.

Projections are rebuilt and switched by the projector (and the operator's ``replay``),
so their tables belong to the group role ``views``, which those two hold. ``views``
creates in its own schema only, and may create tables and indexes there, nothing that
runs code (a function, view, trigger or rule would run as whoever reads the views).
"""

from __future__ import annotations

from dataclasses import dataclass

LEDGER_OWNER = "ledger_owner"
VIEWS = "views"
BILLING_OWNER = "billing_owner"
BILLING_CLIENT = "billing_client"
REGISTRY = "registry"
OPERATOR = "operator"
SERVICES = ("relay", "decider", "executor", "expirer", "api", "projector", OPERATOR)
"""Roles agentledger's processes log in as (services without database work have none)."""
OWNERS = (LEDGER_OWNER, VIEWS, BILLING_OWNER)
"""Roles that own tables and never log in."""
LOGINS = (*SERVICES, BILLING_CLIENT, REGISTRY)
WRITERS = ("decider", "executor", "expirer", "api", OPERATOR)
"""Services that record events (decisions, executions, expiries, approvals, commands)."""

EVENT_STORE = "event store `<ledger>_events`"
SIDE_TABLES = (
    "ledger side tables `<ledger>_positions`, `_policy_inputs`, `_decisions`, `_approvals`,"
    " `_executions`, `_agents`, `_controls`"
)
VIEW_TABLES = "views `views.<ledger>_view_*`"
BILLING_RECORDS = "billing `records`"
BILLING_KEYS = "billing `idempotency`"
BILLING_FEED = "billing change feed `changes`"
VIEWS_SCHEMA = "views"
"""The schema the views live in: ``views`` creates there and nowhere else, and no other
role has it on its search path (a views member could otherwise plant functions there)."""


@dataclass(frozen=True)
class Grant:
    """One row: ``role`` may do ``privileges`` on the tables of ``objects``."""

    role: str
    objects: str
    privileges: tuple[str, ...]


def _rows() -> list[Grant]:
    rows = [Grant("relay", EVENT_STORE, ("SELECT",))]
    for writer in WRITERS:
        rows.append(Grant(writer, EVENT_STORE, ("SELECT", "INSERT")))
        rows.append(Grant(writer, SIDE_TABLES, ("SELECT", "INSERT", "UPDATE", "DELETE")))
    rows.append(Grant("decider", VIEW_TABLES, ("SELECT",)))  # the actual state it decides on
    rows.append(Grant("api", VIEW_TABLES, ("SELECT",)))  # timelines: the agents' decisions
    rows += [Grant(member, VIEW_TABLES, ("owner, through group role `views`",))
             for member in ("projector", OPERATOR)]  # fmt: skip
    rows += [  # an API client's writes: it never sets a version or moves a record's key
        Grant(BILLING_CLIENT, BILLING_RECORDS,
              ("SELECT", "INSERT (type, id, fields)", "UPDATE (fields, deleted)")),
        Grant(BILLING_CLIENT, BILLING_KEYS, ("SELECT", "INSERT")),
        Grant(BILLING_CLIENT, BILLING_FEED, ("SELECT",)),
    ]  # fmt: skip
    return rows


TABLE = _rows()
VIEW_MEMBERS = tuple(
    g.role for g in TABLE if g.objects == VIEW_TABLES and "SELECT" not in g.privileges
)
VIEW_READERS = tuple(g.role for g in TABLE if g.objects == VIEW_TABLES and "SELECT" in g.privileges)


def privileges(role: str, objects: str) -> tuple[str, ...]:
    """What ``role`` may do on ``objects`` (empty: nothing)."""
    return next((g.privileges for g in TABLE if g.role == role and g.objects == objects), ())


def secret_name(role: str) -> str:
    """The role's password's name in the deployment secrets."""
    return f"postgres.{role}"


def markdown() -> str:
    """The table as docs/stack.md prints it."""
    lines = ["| role | tables | privileges |", "|---|---|---|"]
    lines += [f"| `{g.role}` | {g.objects} | {', '.join(g.privileges)} |" for g in TABLE]
    return "\n".join(lines) + "\n"
