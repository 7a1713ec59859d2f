"""The demo's services: one `agentledger run`, with every service, for every scenario.

Its settings are the demo's own: a copy of the bundle with short approval TTLs (an
expiry happens live), the local issuer the approvers sign in through, and short
reconciler windows (drift is reported within seconds).
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from rich.console import Console

from agentledger.demo_flow import demo_bundle
from agentledger.local_issuer import LocalIssuer
from agentledger.services_run import ServicesRun
from agentledger.settings import Settings

WINDOWS = {
    "reconciler_settle_s": 2.0, "reconciler_stale_after_s": 5.0, "reconciler_tick_s": 0.5,
    "observer_poll_s": 0.2, "observer_heartbeat_s": 1.0,
}  # fmt: skip
SHOWN = (
    ("proposals allowed", 'agentledger_proposals_total{outcome="allow"}'),
    ("proposals awaiting approval", 'agentledger_proposals_total{outcome="require_approval"}'),
    ("proposals denied", 'agentledger_proposals_total{outcome="deny"}'),
    ("proposals rejected", 'agentledger_proposals_total{outcome="rejected"}'),
    ("approvals that authorized", 'agentledger_approvals_total{result="approved"}'),
    ("approvals expired", 'agentledger_approvals_total{result="expired"}'),
    ("actions applied", 'agentledger_executions_total{result="applied"}'),
    ("open drift alerts", "agentledger_drift_alerts_open"),
)


@contextmanager
def demo_services(
    settings: Settings, out: Console
) -> Iterator[tuple[Settings, LocalIssuer, ServicesRun]]:
    """Start the run with the demo's settings; on leaving, wait for the relay and stop it."""
    issuer = LocalIssuer(settings.oidc_audience).start()
    bundle = demo_bundle(settings.policy_bundle)
    demo = settings.model_copy(
        update={**WINDOWS, "policy_bundle": bundle, "oidc_issuer": issuer.url}
    )
    env = {f"AGENTLEDGER_{name.upper()}": str(value) for name, value in WINDOWS.items()}
    env["AGENTLEDGER_OIDC_ISSUER"] = issuer.url
    run = ServicesRun(demo, settings.state_dir / "demo-run", _free_port(settings), env=env)
    try:
        run.wait_ready(180)
        out.print(f"services: `agentledger run`, every service a supervised child process;"
                  f" metrics at [cyan]{run.url}/metrics[/], readiness at {run.url}/readyz,"
                  f" log {run.log}")  # fmt: skip
        yield demo, issuer, run
        _caught_up(run, timedelta(seconds=30))
        out.print(f"   the run's metrics ({run.url}/metrics):")
        for title, series in SHOWN:
            out.print(f"     {title}: {run.metric(series):.0f}")
    finally:
        run.stop()
        issuer.stop()
        shutil.rmtree(bundle, ignore_errors=True)


def _caught_up(run: ServicesRun, within: timedelta) -> None:
    """Until the relay has put every stored event on Kafka (the audit reads both)."""
    deadline = time.monotonic() + within.total_seconds()
    while run.metric('agentledger_relay_lag{service="relay"}') > 0 and time.monotonic() < deadline:
        time.sleep(0.5)


def _free_port(settings: Settings) -> int:
    with socket.socket() as probe:
        probe.bind((settings.metrics_host, 0))
        return int(probe.getsockname()[1])
