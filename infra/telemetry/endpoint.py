"""The HTTP endpoint of a service, or of every child of `agentledger run`.

``/metrics`` is Prometheus' text format; ``/healthz`` answers while the process serves
(alive); ``/readyz`` answers 200 only when every expected service reports itself ready,
503 otherwise, with a JSON body naming each service's state either way.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app, multiprocess
from prometheus_client.exposition import ThreadingWSGIServer

from infra.telemetry.metrics import CONSUMER_LAG, READY, UP

StartResponse = Callable[[str, list[tuple[str, str]]], object]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
PID_OF_FILE = re.compile(r"_(\d+)\.db$")
UP_NAME, READY_NAME, LAG_NAME = (m._name for m in (UP, READY, CONSUMER_LAG))  # noqa: SLF001  # the series' own names


def multiprocess_registry(directory: Path) -> CollectorRegistry:
    """A registry that adds up what the processes wrote to ``directory``."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]  # untyped library
    return registry


_pruning = threading.Lock()


def forget_dead_processes(directory: Path) -> None:
    """Drop the live gauges of processes that are gone (a killed child never says so)."""
    with _pruning:  # concurrent requests would race to remove the same files
        pids = {
            int(m.group(1)) for f in directory.glob("*.db") if (m := PID_OF_FILE.search(f.name))
        }
        for pid in pids:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                with contextlib.suppress(FileNotFoundError):
                    multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
            except PermissionError:
                continue  # alive, someone else's


class Health:
    """Whether the expected services are up, ready and not behind, from their own gauges.

    It reads only what the services report (no database, no broker): it answers as fast
    when everything else is down, which is when it is asked most.
    """

    def __init__(self, registry: CollectorRegistry, expected: list[str], max_lag: int) -> None:
        """``registry`` holds the services' gauges; ``max_lag`` bounds a ready one's lag."""
        self.registry, self.expected, self.max_lag = registry, expected, max_lag

    def states(self) -> dict[str, str]:
        """Per expected service: ``ready``, ``behind``, ``starting`` or ``down``.

        ``behind``: ready, but a partition lags more than ``max_lag`` records; ``starting``:
        up, not ready yet.
        """
        highest: dict[str, dict[str, float]] = {UP_NAME: {}, READY_NAME: {}, LAG_NAME: {}}
        for family in self.registry.collect():  # once per request
            found = highest.get(family.name)
            if found is None:
                continue
            for sample in family.samples:
                service = sample.labels["service"]
                found[service] = max(found.get(service, sample.value), sample.value)
        up, ready, lag = highest[UP_NAME], highest[READY_NAME], highest[LAG_NAME]

        def state(name: str) -> str:
            if not up.get(name):
                return "down"
            if not ready.get(name):
                return "starting"
            return "behind" if lag.get(name, 0) > self.max_lag else "ready"

        return {name: state(name) for name in self.expected}


def health_app(
    metrics: CollectorRegistry, health: Health, before_each: Callable[[], None]
) -> WsgiApp:
    """The WSGI app of the endpoint; ``before_each`` runs before every request."""
    served = make_wsgi_app(metrics)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        before_each()
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return served(environ, start_response)  # type: ignore[no-any-return]
        if path not in {"/healthz", "/readyz"}:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: try /metrics, /healthz or /readyz\n"]
        states = health.states()
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
