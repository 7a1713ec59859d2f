"""The HTTP API as a service: built from the settings, served by uvicorn alone or in a thread."""

from __future__ import annotations

import threading

import uvicorn
from fastapi import FastAPI

from agentledger.api.app import create_app
from agentledger.bootstrap import approval_desk, projection_store, topic_serdes
from agentledger.credentials import agent_tokens, kafka_access
from agentledger.settings import Settings
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger
from infra.proposal_sink import ProposalSink
from projections.timeline import TimelineReader

WATCH_S = 0.05


def api_app(settings: Settings, the_ledger: Ledger, systems: Connectors | None = None) -> FastAPI:
    """The API on ``the_ledger``: proposals to Kafka as ``api``, decisions from the views."""
    sink = ProposalSink(
        kafka_access(settings, "api"),
        topic_serdes(settings, "proposals.v1")["proposals.v1"],
        settings.partitions,
    )
    views = projection_store(settings, "api")
    return create_app(
        approval_desk(settings, the_ledger, systems), the_ledger, sink,
        lambda: agent_tokens(settings), TimelineReader(views.url, views.prefix),
    )  # fmt: skip


class ApiServer:
    """uvicorn serving ``app``, run like every service: ``run(stop)``, ``ready`` once listening."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        """Serve ``app`` on ``host``:``port`` once run."""
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        self.ready = threading.Event()

    def run(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set."""

        def watch() -> None:
            while not stop.wait(WATCH_S):
                if self.server.started:
                    self.ready.set()
            self.server.should_exit = True

        threading.Thread(target=watch, daemon=True, name="api-stop").start()
        self.server.run()
