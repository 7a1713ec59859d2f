"""The HTTP API as a service: built from the settings, served by uvicorn alone or in a thread."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from agentledger.api.app import create_app
from agentledger.bootstrap import approval_desk, projection_store, topic_serdes
from agentledger.credentials import agent_tokens, kafka_access
from agentledger.settings import Settings
from agentledger.signing_keys import service_key
from domain.signing import as_service
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger
from infra.proposal_sink import ProposalSink
from projections.timeline import TimelineReader

WATCH_S = 0.05


def api_app(
    settings: Settings, the_ledger: Ledger, systems: Connectors | None = None
) -> tuple[FastAPI, Callable[[], None]]:
    """The API on ``the_ledger`` (proposals to Kafka as ``api``, decisions from the views).

    Returns the app and what closes its producer and its view connections.
    """
    sink = ProposalSink(
        kafka_access(settings, "api"),
        topic_serdes(settings, "proposals.v1")["proposals.v1"],
        settings.partitions, seal=as_service(service_key(settings, "api")),
    )  # fmt: skip
    views = projection_store(settings, "api")
    timeline = TimelineReader(views.url, views.prefix)
    app = create_app(
        approval_desk(settings, the_ledger, systems), the_ledger, sink,
        lambda: agent_tokens(settings), timeline,
        max_body_bytes=settings.max_record_bytes, failed_logins=settings.api_failed_logins,
        planned=timeline.plan,
    )  # fmt: skip

    def close() -> None:
        sink.close()
        timeline.close()

    return app, close


class ApiServer:
    """The API in a thread, run like every service: ``run(stop)``, ``ready`` once serving.

    The port is bound at once, so a busy one fails here and now, not in the thread.
    """

    def __init__(
        self, settings: Settings, the_ledger: Ledger, systems: Connectors | None,
        log_level: str = "warning",
    ) -> None:  # fmt: skip
        """Bind ``api_host``:``api_port`` and build the app on ``the_ledger``.

        uvicorn logs through the process's own logging (``log_level`` and up).
        """
        self._socket = socket.create_server((settings.api_host, settings.api_port))
        self._app, self._close = api_app(settings, the_ledger, systems)
        self.server = uvicorn.Server(
            uvicorn.Config(self._app, log_level=log_level, log_config=None, proxy_headers=False)
        )  # a client's X-Forwarded-For must not choose the address its failures count on
        self.ready = threading.Event()

    def run(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set."""

        def watch() -> None:
            while not stop.wait(WATCH_S):
                if self.server.started:
                    self.ready.set()
            self.server.should_exit = True

        threading.Thread(target=watch, daemon=True, name="api-stop").start()
        try:
            self.server.run(sockets=[self._socket])
        finally:
            self._socket.close()
            self._close()
