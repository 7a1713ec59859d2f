"""The endpoint of `agentledger run` adds up its children and knows which of them are ready."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from infra.telemetry.endpoint import (
    Endpoint,
    Health,
    forget_dead_processes,
    health_app,
    multiprocess_registry,
)
from infra.telemetry.state import StateCollector

pytestmark = pytest.mark.unit

CHILD = """
import sys, time
from agentledger.service_process import started
from infra.telemetry.metrics import CONSUMER_LAG, PROPOSALS, READY
service, count, lag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
started(service)
if count:
    READY.labels(service).set(1)
    PROPOSALS.labels("allow").inc(count)
CONSUMER_LAG.labels(service, "g", "t", "0").set(lag)
print("ok", flush=True)
time.sleep(120)
"""


def _child(shared: Path, service: str, count: int, lag: int = 0) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, service, str(count), str(lag)], text=True,
        stdout=subprocess.PIPE,
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)},
    )  # fmt: skip
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ok"
    return child


def _stop(*children: subprocess.Popen[str]) -> None:
    for child in children:
        child.kill()
        child.wait(10)


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[str]:
    """The run's endpoint over ``tmp_path``, expecting a decider and an api."""
    registry = multiprocess_registry(tmp_path)
    health = Health(multiprocess_registry(tmp_path), ["decider", "api"], max_lag=100)
    app = health_app(registry, health, lambda: forget_dead_processes(tmp_path))
    served = Endpoint("127.0.0.1", 0, app)
    yield f"http://127.0.0.1:{served.port}"
    served.close()


def _allowed(url: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    line = next(
        x for x in text.splitlines() if x.startswith('agentledger_proposals_total{outcome="allow"}')
    )
    return float(line.split()[-1])


def test_counts_of_children_add_up_and_outlive_a_killed_child(
    tmp_path: Path, endpoint: str
) -> None:
    """Two deciders count 3 and 4; after one is killed, 7 are still counted."""
    first, second = _child(tmp_path, "decider", 3), _child(tmp_path, "decider", 4)
    try:
        assert _allowed(endpoint) == 7
        first.kill()
        first.wait(10)
        assert _allowed(endpoint) == 7
    finally:
        _stop(first, second)


def test_ready_only_when_every_expected_service_is_and_a_killed_one_is_down(
    tmp_path: Path, endpoint: str
) -> None:
    """/readyz: 503 naming the api while it starts, 200 once ready, 503 "down" once killed."""
    decider, api = _child(tmp_path, "decider", 1), _child(tmp_path, "api", 0)
    try:
        waiting = httpx.get(f"{endpoint}/readyz")
        assert (waiting.status_code, waiting.json()["services"]) == (
            503, {"decider": "ready", "api": "starting"},
        )  # fmt: skip
        api.kill()
        api.wait(10)
        api = _child(tmp_path, "api", 1)
        ready = httpx.get(f"{endpoint}/readyz")
        assert (ready.status_code, ready.json()["ready"]) == (200, True)
        decider.kill()
        decider.wait(10)
        gone = httpx.get(f"{endpoint}/readyz")
        assert (gone.status_code, gone.json()["services"]["decider"]) == (503, "down")
        assert httpx.get(f"{endpoint}/healthz").status_code == 200
        assert httpx.get(f"{endpoint}/other").status_code == 404
    finally:
        _stop(decider, api)


def test_a_restarted_service_counts_a_restart(tmp_path: Path, endpoint: str) -> None:
    """The second start of a service under one run is a restart; the first is not."""
    first = _child(tmp_path, "api", 0)
    first.kill()
    first.wait(10)
    again = _child(tmp_path, "api", 0)
    try:
        metrics = httpx.get(f"{endpoint}/metrics").text
        assert 'agentledger_service_restarts_total{service="api"} 1.0' in metrics
    finally:
        again.kill()
        again.wait(10)


def test_a_service_behind_by_more_than_the_bound_is_not_ready(
    tmp_path: Path, endpoint: str
) -> None:
    """A ready decider whose partition lags 101 records (bound: 100) makes /readyz 503."""
    decider, api = _child(tmp_path, "decider", 1, lag=101), _child(tmp_path, "api", 1, lag=100)
    try:
        answer = httpx.get(f"{endpoint}/readyz")
        assert (answer.status_code, answer.json()["services"]) == (
            503, {"decider": "behind", "api": "ready"},
        )  # fmt: skip
    finally:
        _stop(decider, api)


def test_concurrent_requests_after_a_child_died_all_answer(tmp_path: Path, endpoint: str) -> None:
    """Eight requests at once after a child was killed: each prunes or finds it pruned, none 500s."""
    child = _child(tmp_path, "decider", 1)
    child.kill()
    child.wait(10)
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: httpx.get(f"{endpoint}/readyz").status_code, range(8)))
    assert codes == [503] * 8


def test_no_request_asks_the_database(tmp_path: Path) -> None:
    """No request asks the database: only the collector's refresh does; /metrics shows it."""
    asked: list[str] = []

    def pending() -> int:
        asked.append("pending")
        return 0

    metrics = multiprocess_registry(tmp_path)
    collector = StateCollector(pending, list)
    metrics.register(collector)
    health = Health(multiprocess_registry(tmp_path), ["decider"], max_lag=100)
    served = Endpoint("127.0.0.1", 0, health_app(metrics, health, lambda: None))
    decider = _child(tmp_path, "decider", 1)
    try:
        url = f"http://127.0.0.1:{served.port}"
        assert httpx.get(f"{url}/readyz").status_code == 200
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert "agentledger_approvals_pending" not in httpx.get(f"{url}/metrics").text
        assert asked == []
        collector.refresh()
        assert "agentledger_approvals_pending 0.0" in httpx.get(f"{url}/metrics").text
        assert asked == ["pending"]
    finally:
        _stop(decider)
        served.close()
