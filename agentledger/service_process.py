"""How every long-running service process lives: logs, signals, health and metrics.

A service run on its own serves its own ``/metrics``, ``/healthz`` and ``/readyz`` when
``metrics_port`` is set. Under `agentledger run` the supervisor names a shared directory
in ``PROMETHEUS_MULTIPROC_DIR``: the service writes its samples there and the run's one
endpoint serves them all.
"""

from __future__ import annotations

import logging
import logging.config
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry

from agentledger.settings import Settings
from consumers.runtime.retry import waiting_out
from infra.telemetry import trace_export
from infra.telemetry.endpoint import Endpoint, Health, health_app
from infra.telemetry.metrics import CONSUMER_LAG, READY, RESTARTS, UP

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
READY_POLL_S = 0.5
LOG_FORMAT = "%(asctime)s {service} %(name)s %(levelname)s %(message)s"


def log_format(settings: Settings) -> str:
    """``text`` or ``json``: ``auto`` is text on a terminal, JSON lines otherwise."""
    if settings.log_format != "auto":
        return settings.log_format
    return "text" if sys.stderr.isatty() else "json"


def log_config(service: str, settings: Settings) -> dict[str, Any]:
    """Lines (INFO and up) to stderr that name ``service``, so interleaved children stay apart.

    JSON lines carry ``time``, ``level``, ``logger``, ``message``, ``service`` and, when
    there are, ``action_id``, ``trace_id`` and ``span_id``. Each request of the registry
    client is not news: httpx logs warnings only.
    """
    formatters = {
        "text": {"format": LOG_FORMAT.format(service=service)},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "static_fields": {"service": service},
        },
    }
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"chosen": formatters[log_format(settings)]},
        "filters": {"context": {"()": "infra.telemetry.log_context.ContextFilter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "chosen",
                                "filters": ["context"], "stream": "ext://sys.stderr"}},
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {"httpx": {"level": "WARNING"}, "httpx2": {"level": "WARNING"}},
    }  # fmt: skip


def log_to_stderr(service: str, settings: Settings) -> None:
    """Configure this process's logging as :func:`log_config` says."""
    logging.config.dictConfig(log_config(service, settings))


def run_service(
    service: str,
    run: Callable[[threading.Event], None],
    ready: Callable[[], bool],
    settings: Settings,
) -> None:
    """Run ``run(stop)`` until SIGTERM or SIGINT; reported ready while ``ready()`` says so."""
    log_to_stderr(service, settings)
    trace_export.configure(service)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    started(service)
    endpoint = own_endpoint(service, settings)
    watcher = threading.Thread(target=_mark_ready, args=(service, ready, stop), daemon=True)
    watcher.start()
    try:
        run(stop)
    finally:
        stop.set()
        watcher.join(5)  # its last word must not be a 1 after this 0
        READY.labels(service).set(0)
        if endpoint is not None:
            endpoint.close()


def started(service: str) -> None:
    """Say the service is up; count a restart if it started before under this run."""
    UP.labels(service).set(1)
    READY.labels(service).set(0)
    restarts = RESTARTS.labels(service)
    shared = os.environ.get(MULTIPROCESS_DIR)
    if shared:
        marker = Path(shared) / f"started-{service}"
        if marker.exists():
            restarts.inc()
            logging.getLogger("agentledger.run").warning("%s started again (a restart)", service)
        marker.touch()


def own_endpoint(service: str, settings: Settings) -> Endpoint | None:
    """The service's own endpoint, if it has a port and no supervisor serves for it."""
    if settings.metrics_port == 0 or os.environ.get(MULTIPROCESS_DIR):
        return None
    own = CollectorRegistry(auto_describe=True)  # health reads the services' gauges only
    for gauge in (UP, READY, CONSUMER_LAG):
        own.register(gauge)
    app = health_app(REGISTRY, Health(own, [service], settings.ready_max_lag), lambda: None)
    endpoint = Endpoint(settings.metrics_host, settings.metrics_port, app)
    logging.getLogger("agentledger.run").info(
        "metrics at http://%s:%d/metrics", settings.metrics_host, endpoint.port
    )
    return endpoint


def _mark_ready(service: str, ready: Callable[[], bool], stop: threading.Event) -> None:
    """Follow ``ready()`` (it can fall back: a lock lost, an outage waited out) until stopped."""
    gauge = READY.labels(service)
    while not stop.is_set():
        gauge.set(1 if ready() and not waiting_out() else 0)
        stop.wait(READY_POLL_S)
