"""A cold start: a registry without our contracts, registration racing itself, services at once."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from agentledger.bootstrap import catalog
from infra.serde.registrar import COMPATIBILITY, Registrar
from infra.stack.registry_gate import OPERATOR_ENTRY
from infra.stack.secrets import Secrets
from tests.conftest import CLI, run_cli

pytestmark = pytest.mark.e2e

SERVICES = (
    "relay", "decider", "executor", "observer", "projector", "reconciler", "expirer", "api",
)  # fmt: skip
SETTLE_S = 25.0
"""How long every service must stay up: each failure seen at start came within seconds."""


def _registry(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['AGENTLEDGER_REGISTRY_PORT']}/apis/ccompat/v7"


def _operator(env: dict[str, str]) -> tuple[str, str]:
    """The fresh stack's registry operator and the password its `up` generated."""
    secrets = Secrets(Path(env["AGENTLEDGER_STATE_DIR"]) / "secrets.json")
    return "operator", secrets.get(OPERATOR_ENTRY)


def _forget_every_subject(url: str, operator: tuple[str, str]) -> None:
    """Delete every subject for good: the registry as a fresh deployment finds it."""
    with httpx.Client(auth=operator, timeout=10) as http:
        for subject in http.get(f"{url}/subjects").raise_for_status().json():
            http.delete(f"{url}/subjects/{subject}").raise_for_status()
            http.delete(f"{url}/subjects/{subject}?permanent=true").raise_for_status()
        assert http.get(f"{url}/subjects").json() == []


@pytest.fixture(scope="module")
def bare_registry(fresh_env: dict[str, str]) -> str:
    """The fresh stack up, its registry holding none of our subjects; the registry's URL."""
    result = run_cli("up", env=fresh_env)
    assert result.returncode == 0, result.stdout + result.stderr
    url = _registry(fresh_env)
    _forget_every_subject(url, _operator(fresh_env))
    return url


def test_a_service_started_before_registration_names_the_subject_and_the_command(
    fresh_env: dict[str, str], bare_registry: str
) -> None:
    """The decider refuses to start, naming a missing subject and `agentledger schemas register`."""
    result = run_cli("decider", env=fresh_env, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "agentledger.v1.ActionProposed: this schema is not registered" in result.stderr
    assert "agentledger schemas register" in result.stderr
    assert "is the stack up" not in result.stderr
    assert httpx.get(f"{bare_registry}/subjects", timeout=10).json() == [], "it registered"


def test_registrations_racing_each_other_all_succeed(
    bare_registry: str, fresh_env: dict[str, str]
) -> None:
    """Eight registrations of every contract, started together on empty subjects, all succeed."""
    contracts, start = list(catalog()), threading.Barrier(8)
    errors: list[BaseException] = []
    ids: list[dict[str, int]] = []
    user, password = _operator(fresh_env)
    conf = {"url": bare_registry, "basic.auth.user.info": f"{user}:{password}"}

    def register() -> None:
        registrar = Registrar(SchemaRegistryClient(conf), bare_registry,
                              httpx.Client(timeout=30, auth=(user, password)))  # fmt: skip
        start.wait(30)
        try:
            ids.append(registrar.register(contracts))
        except Exception as exc:  # noqa: BLE001  # every failure is the finding
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert len(ids) == 8
    assert all(found == ids[0] for found in ids), "one schema id per subject, whoever won"
    check = Registrar(SchemaRegistryClient({"url": bare_registry}), bare_registry)
    assert {check.compatibility(c.fullname) for c in contracts} == {COMPATIBILITY}


def _launch(name: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [str(CLI), name], env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


@contextmanager
def _started(env: dict[str, str], logs: Path) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    """Every service as its own process, all launched in the same instant; stopped after."""
    logs.mkdir(parents=True, exist_ok=True)
    running = {name: _launch(name, env, logs / f"{name}.log") for name in SERVICES}
    try:
        yield running
    finally:
        for process in running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in running.values():
            try:
                process.wait(45)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


@pytest.mark.usefixtures("bare_registry")
def test_eight_services_started_together_after_registration_all_come_up(
    fresh_env: dict[str, str], tmp_path: Path
) -> None:
    """After `schemas register`, the eight services launched at once all run, none errs.

    The logs are judged up to the stop. faust may log an ``IllegalOperation`` from its
    final transactional commit when stopped while it is still joining its group; nothing
    is lost then: the uncommitted transaction is read again at the next start. What this
    test guards is the start.
    """
    registered = run_cli("schemas", "register", env=fresh_env)
    assert registered.returncode == 0, registered.stdout + registered.stderr
    with _started(fresh_env, tmp_path) as running:
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline:
            died = {n: p.returncode for n, p in running.items() if p.poll() is not None}
            assert not died, _tails(tmp_path, died)
            time.sleep(0.5)
        until_stop = {name: (tmp_path / f"{name}.log").read_bytes() for name in SERVICES}
    for name, logged in until_stop.items():
        text = logged.decode(errors="replace")
        assert "Traceback" not in text, f"{name}:\n{text[-3000:]}"
        assert " ERROR " not in text, f"{name}:\n{text[-3000:]}"


def _tails(logs: Path, died: dict[str, int | None]) -> str:
    return "\n".join(
        f"{name} exited {code}:\n{(logs / f'{name}.log').read_text(errors='replace')[-2000:]}"
        for name, code in died.items()
    )
