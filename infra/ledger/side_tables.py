"""Tables written in the ledger's own transactions, beside the events.

- ``<prefix>_positions``: how far each consumer got in each Kafka partition;
- ``<prefix>_decisions``: one row per decision (the decider's history for rate limits);
- ``<prefix>_policy_inputs``: every policy input, by digest, exactly as evaluated;
- ``<prefix>_approvals``: every approval request and where it stands (the expiry timers);
- ``<prefix>_executions``: executions in flight or waiting for a retry (re-driven after a crash);
- ``<prefix>_agents``: every registered agent;
- ``<prefix>_controls``: the aggregate version of each subject's last kill switch or stop.
"""

from __future__ import annotations

from psycopg.sql import SQL, Composed, Identifier


def side_table_statements(schema: str, prefix: str) -> list[Composed]:
    """CREATE statements for the side tables of the ledger whose tables start with ``prefix``."""

    def name(suffix: str) -> Composed:
        return SQL("{0}.{1}").format(Identifier(schema), Identifier(f"{prefix}_{suffix}"))

    def index(suffix: str, table: str, columns: str) -> Composed:
        return SQL("CREATE INDEX IF NOT EXISTS {0} ON {1} (" + columns + ")").format(
            Identifier(f"{prefix}_{suffix}"), name(table)
        )

    return [
        SQL(
            "CREATE TABLE IF NOT EXISTS {0} (consumer text NOT NULL, topic text NOT NULL,"
            " partition integer NOT NULL, next_offset bigint NOT NULL,"
            " PRIMARY KEY (consumer, topic, partition))"
        ).format(name("positions")),
        SQL("CREATE TABLE IF NOT EXISTS {0} (digest text PRIMARY KEY, input text NOT NULL)").format(
            name("policy_inputs")
        ),
        SQL(
            "CREATE TABLE IF NOT EXISTS {0} (action_id uuid PRIMARY KEY, agent_id text NOT NULL,"
            " resource_key text NOT NULL, action_type text NOT NULL, outcome text NOT NULL,"
            " reasons text NOT NULL, bundle_digest text NOT NULL, bundle_version text NOT NULL,"
            " input_digest text NOT NULL, decided_at timestamptz NOT NULL,"
            " at_ms bigint NOT NULL)"
        ).format(name("decisions")),
        index("decisions_agent", "decisions", "agent_id, at_ms"),
        index("decisions_resource", "decisions", "resource_key, at_ms"),
        index("decisions_at", "decisions", "at_ms"),
        index("decisions_pair", "decisions", "agent_id, resource_key"),
        SQL(
            "CREATE TABLE IF NOT EXISTS {0} (action_id uuid PRIMARY KEY, agent_id text NOT NULL,"
            " resource_key text NOT NULL, action_type text NOT NULL, parameters text NOT NULL,"
            " state text NOT NULL, approvals_required integer NOT NULL,"
            " approver_roles text[] NOT NULL, approved_by text[] NOT NULL,"
            " action_digest text NOT NULL, resource_version text,"
            " requested_at timestamptz NOT NULL, expires_at timestamptz NOT NULL,"
            " closed_at timestamptz)"
        ).format(name("approvals")),
        index("approvals_due", "approvals", "state, expires_at"),
        SQL(
            "CREATE TABLE IF NOT EXISTS {0} (action_id uuid PRIMARY KEY,"
            " resource_key text NOT NULL, state text NOT NULL, attempt integer NOT NULL,"
            " idempotency_key text NOT NULL, expected_version text, executor text NOT NULL,"
            " due_at timestamptz)"
        ).format(name("executions")),
        SQL(
            "CREATE TABLE IF NOT EXISTS {0} (agent_id text PRIMARY KEY,"
            " registered_at timestamptz NOT NULL)"
        ).format(name("agents")),
        SQL(
            "CREATE TABLE IF NOT EXISTS {0} (subject text PRIMARY KEY, version bigint NOT NULL)"
        ).format(name("controls")),
    ]


def policy_inputs_table(ledger_name: str) -> str:
    """The ledger's table of recorded policy inputs (``<ledger>_policy_inputs``, by digest)."""
    return f"{ledger_name.lower()}_policy_inputs"  # the recorder's prefix: the name, lowered
