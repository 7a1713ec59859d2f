"""`agentledger run [SERVICE ...]`: the services as supervised children, one endpoint."""

from __future__ import annotations

import logging
import os
import signal
import socket
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
    RunLocked,
    UnknownService,
    chosen,
    prepare,
    run_dir,
    supervisord,
)
from infra.telemetry.endpoint import (
    Endpoint,
    Health,
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
        conf, lock = prepare(settings, names)
        _port_free(settings)
    except (UnknownService, RunLocked, ValueError, OSError) as exc:
        err.print(f"[red]error[/] {exc}")
        raise typer.Exit(2) from None
    os.set_inheritable(lock, True)  # noqa: FBT003  # positional-only; supervisord keeps the lock
    where = f"http://{settings.metrics_host}:{settings.run_metrics_port}"
    out.print(f"running {', '.join(names)}; metrics at {where}/metrics,"
              f" health at {where}/healthz and {where}/readyz")  # fmt: skip
    out.print(f"children: {supervisord().parent / 'supervisorctl'} -c {conf} status")
    out.file.flush()
    os.execv(supervisord(), [str(supervisord()), "-n", "-c", str(conf)])  # noqa: S606  # our own supervisord, no shell


def _port_free(settings: Settings) -> None:
    """Fail now, naming the setting, if the run's endpoint port is taken."""
    address = (settings.metrics_host, settings.run_metrics_port)
    try:
        with socket.create_server(address):
            pass
    except OSError as exc:
        raise OSError(f"{address[0]}:{address[1]} is not free for the run's metrics ({exc});"
                      " set AGENTLEDGER_RUN_METRICS_PORT") from None  # fmt: skip


def run_endpoint(
    services: Annotated[list[str], typer.Argument(help="The services the run expects.")],
) -> None:
    """Serve the run's /metrics, /healthz and /readyz (a child of `agentledger run`)."""
    settings = Settings()
    log_to_stderr("endpoint", settings)
    shared = Path(os.environ.get(MULTIPROCESS_DIR) or run_dir(settings) / "metrics")
    metrics = multiprocess_registry(shared)
    collector, reads = state_collector(settings)
    metrics.register(collector)
    stop = threading.Event()
    collector.follow(stop)
    health = Health(multiprocess_registry(shared), chosen(services), settings.ready_max_lag)
    app = health_app(metrics, health, lambda: forget_dead_processes(shared))
    endpoint = Endpoint(settings.metrics_host, settings.run_metrics_port, app)
    logging.getLogger("agentledger.run").info(
        "serving /metrics, /healthz and /readyz at http://%s:%d",
        settings.metrics_host, settings.run_metrics_port,
    )  # fmt: skip
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    endpoint.close()
    reads.close()
