"""PostgreSQL for tests: the deployment's superuser (to look at anything), or a service's role."""

from __future__ import annotations

from psycopg.conninfo import make_conninfo

from agentledger.credentials import admin_database_url, database_url
from agentledger.settings import Settings
from infra.database_roles import OPERATOR


def admin_url(settings: Settings, dbname: str | None = None) -> str:
    """The local server's superuser, through its private socket (tests inspect and reset).

    Unlike the deployment's, its search path is ``public``: tests name tables unqualified.
    """
    return make_conninfo(admin_database_url(settings, dbname), options="-c search_path=public")


def operator_url(settings: Settings) -> str:
    """The operator's role: what the CLI may do."""
    return database_url(settings, OPERATOR)
