"""The HTTP endpoint of a service, or of every child of `agentledger run`.

``/metrics`` is Prometheus' text format; ``/healthz`` answers while the process serves
(alive); ``/readyz`` answers 200 only when every expected service reports itself ready,
503 otherwise, with a JSON body naming each service's state either way.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app, multiprocess
from prometheus_client.exposition import ThreadingWSGIServer

from infra.telemetry.metrics import READY, UP

StartResponse = Callable[[str, list[tuple[str, str]]], object]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
PID_OF_FILE = re.compile(r"_(\d+)\.db$")


def multiprocess_registry(directory: Path) -> CollectorRegistry:
    """A registry that adds up what the processes wrote to ``directory``."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]  # untyped library
    return registry


def forget_dead_processes(directory: Path) -> None:
    """Drop the live gauges of processes that are gone (a killed child never says so)."""
    for pid in {
        int(m.group(1)) for f in directory.glob("*.db") if (m := PID_OF_FILE.search(f.name))
    }:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
        except PermissionError:
            continue  # alive, someone else's


def service_states(registry: CollectorRegistry, expected: Iterable[str]) -> dict[str, str]:
    """``ready``, ``starting`` (up, not ready) or ``down`` for each expected service."""
    up, ready = _by_service(registry, UP._name), _by_service(registry, READY._name)  # noqa: SLF001  # the series' own names
    return {
        name: "ready" if ready.get(name) else "starting" if up.get(name) else "down"
        for name in expected
    }


def _by_service(registry: CollectorRegistry, name: str) -> dict[str, float]:
    return {
        sample.labels["service"]: sample.value
        for family in registry.collect() if family.name == name
        for sample in family.samples
    }  # fmt: skip


def health_app(
    registry: CollectorRegistry, expected: list[str], before_each: Callable[[], None]
) -> WsgiApp:
    """The WSGI app of the endpoint; ``before_each`` runs before every request."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        before_each()
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics(environ, start_response)  # type: ignore[no-any-return]
        if path not in {"/healthz", "/readyz"}:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: try /metrics, /healthz or /readyz\n"]
        states = service_states(registry, expected)
        ready = all(state == "ready" for state in states.values())
        status = "200 OK" if path == "/healthz" or ready else "503 Service Unavailable"
        body = json.dumps({"ready": ready, "services": states}).encode()
        start_response(status, [("Content-Type", "application/json")])
        return [body]

    return app


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ANN401  # the base's signature
        """Scrapes are not news."""


class Endpoint:
    """The endpoint served from a daemon thread until :meth:`close`."""

    def __init__(self, host: str, port: int, app: WsgiApp) -> None:
        """Bind now (a taken port fails here, at start-up, not later)."""
        self._server = make_server(host, port, app, ThreadingWSGIServer, handler_class=_Quiet)
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()


def samples(registry: CollectorRegistry, name: str) -> Iterator[tuple[dict[str, str], float]]:
    """(labels, value) of every sample named ``name``: for tests and the CLI."""
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == name:
                yield sample.labels, sample.value
