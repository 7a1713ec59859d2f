"""`agentledger relay | decider | executor | expirer | observer | projector | reconciler | api`.

Each runs one service in this process until SIGTERM or SIGINT; `agentledger run` runs
them all (or some) as supervised children.
"""

from __future__ import annotations

import threading

from prometheus_client import REGISTRY

from agentledger.api.server import ApiServer
from agentledger.bootstrap import (
    decider_service,
    executor_service,
    expirer,
    ledger,
    observer,
    projectors,
    reconciler,
    relay,
)
from agentledger.service_process import log_config, log_to_stderr, run_service, started
from agentledger.settings import Settings
from agentledger.state_metrics import state_collector
from consumers.projector.service import Projector
from consumers.reconciler.app import run
from consumers.relay.relay import Relay
from infra.telemetry import trace_export
from infra.telemetry.metrics import READY


def run_relay() -> None:
    """Relay the ledger to Kafka until SIGTERM/SIGINT (a standby if another relay is active)."""
    settings = Settings()
    the_relay = relay(settings)
    run_service("relay", the_relay.run, lambda: _active_or_standing_by(the_relay), settings)


def run_decider() -> None:
    """Decide proposals from Kafka until SIGTERM/SIGINT (instances share one consumer group)."""
    settings = Settings()
    service = decider_service(settings)
    run_service("decider", service.run, service.ready.is_set, settings)


def run_executor() -> None:
    """Execute authorized actions until SIGTERM/SIGINT (a standby if another is active)."""
    settings = Settings()
    service = executor_service(settings)

    def ready() -> bool:  # executing with its partitions, or standing by for the one that is
        return (service.active.is_set() and service.ready.is_set()) or service.standing_by.is_set()

    run_service("executor", service.run, ready, settings)


def run_observer() -> None:
    """Observe every system's change feed until SIGTERM/SIGINT."""
    settings = Settings()
    service = observer(settings)
    run_service("observer", service.run, service.ready.is_set, settings)


def run_expirer() -> None:
    """Expire due approval requests until SIGTERM/SIGINT."""
    settings = Settings()
    run_service("expirer", expirer(settings).run, lambda: True, settings)


def run_projector() -> None:
    """Keep every projection up to date from the topics until SIGTERM/SIGINT."""
    settings = Settings()
    every = projectors(settings)

    failed: list[BaseException] = []

    def project(one: Projector, stop: threading.Event) -> None:
        try:
            one.run(stop)
        except BaseException as exc:  # one view frozen is a service down: all stop, exit 1
            failed.append(exc)
            stop.set()
            raise

    def run_all(stop: threading.Event) -> None:
        threads = [threading.Thread(target=project, args=(p, stop)) for p in every]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failed:
            raise SystemExit(f"a projection stopped: {failed[0]!r}")

    run_service("projector", run_all, lambda: all(p.ready.is_set() for p in every), settings)


def run_api() -> None:
    """Serve the HTTP API (OpenAPI at /docs) on the api_host/api_port settings."""
    settings = Settings()
    server = ApiServer(settings, ledger(settings, "api"), None, log_level="info")
    if settings.metrics_port:  # on its own; under `agentledger run` the endpoint counts these
        collector, _ = state_collector(settings)  # its connections close with the process
        REGISTRY.register(collector)
        collector.follow(threading.Event())  # a daemon thread, for the process's lifetime
    run_service("api", server.run, server.ready.is_set, settings)


def _active_or_standing_by(the_relay: Relay) -> bool:
    """A relay is ready once it relays, or stands by for the one that does."""
    return the_relay.active.is_set() or the_relay.standing_by.is_set()


def run_reconciler() -> None:
    """Compare belief and reality per resource; alerts go to drift.v1 (until SIGTERM/SIGINT)."""
    settings = Settings()
    log_to_stderr("reconciler", settings)
    trace_export.configure("reconciler")
    app = reconciler(settings)
    started("reconciler")

    @app.task  # type: ignore[untyped-decorator]  # faust's decorators are untyped
    async def ready() -> None:  # faust runs its tasks once the worker has started
        READY.labels("reconciler").set(1)

    run(app, logging_config=log_config("reconciler", settings))
