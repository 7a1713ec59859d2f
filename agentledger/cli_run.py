"""`agentledger run [SERVICE ...]`: the services as supervised children, one endpoint."""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agentledger.service_process import MULTIPROCESS_DIR, log_to_stderr
from agentledger.settings import Settings
from agentledger.state_metrics import state_collector
from agentledger.supervision import (
    SERVICES,
    UnknownService,
    chosen,
    prepare,
    run_dir,
    supervisord,
)
from infra.telemetry.endpoint import (
    Endpoint,
    forget_dead_processes,
    health_app,
    multiprocess_registry,
)

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def run(
    services: Annotated[
        list[str] | None,
        typer.Argument(help=f"Services to run (default: all): {', '.join(SERVICES)}."),
    ] = None,
) -> None:
    """Run the services as children of supervisord until SIGTERM/SIGINT; dead ones restart."""
    settings = Settings()
    try:
        names = chosen(services or [])
        conf = prepare(settings, names)
    except (UnknownService, RuntimeError) as exc:
        err.print(f"[red]error[/] {exc}")
        raise typer.Exit(2) from None
    where = f"http://{settings.metrics_host}:{settings.run_metrics_port}"
    out.print(f"running {', '.join(names)}; metrics at {where}/metrics,"
              f" health at {where}/healthz and {where}/readyz")  # fmt: skip
    out.print(f"children: {supervisord().parent / 'supervisorctl'} -c {conf} status")
    out.file.flush()
    os.execv(supervisord(), [str(supervisord()), "-n", "-c", str(conf)])  # noqa: S606  # our own supervisord, no shell


def run_endpoint(
    services: Annotated[list[str], typer.Argument(help="The services the run expects.")],
) -> None:
    """Serve the run's /metrics, /healthz and /readyz (a child of `agentledger run`)."""
    settings = Settings()
    log_to_stderr("endpoint", settings)
    shared = Path(os.environ.get(MULTIPROCESS_DIR) or run_dir(settings) / "metrics")
    registry = multiprocess_registry(shared)
    collector, close = state_collector(settings)
    registry.register(collector)
    app = health_app(
        registry, chosen(services), lambda: forget_dead_processes(shared), settings.ready_max_lag
    )
    endpoint = Endpoint(settings.metrics_host, settings.run_metrics_port, app)
    logging.getLogger("agentledger.run").info(
        "serving /metrics, /healthz and /readyz at http://%s:%d",
        settings.metrics_host, settings.run_metrics_port,
    )  # fmt: skip
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    endpoint.close()
    close()
