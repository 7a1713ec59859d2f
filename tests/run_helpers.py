"""`agentledger run` as a test drives it, and a real Prometheus server that scrapes it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from agentledger.processes import settings_env
from agentledger.settings import Settings
from tests.conftest import free_ports

BIN = Path(sys.executable).parent


class SupervisedRun:
    """`agentledger run SERVICES` in a session of its own, logging to ``where/run.log``."""

    def __init__(
        self, settings: Settings, where: Path, services: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        """Start it with ``env`` added; :meth:`wait_ready` waits for /readyz."""
        self.where, self.port = where, free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = where / "run.log"
        env = {
            **settings_env(settings), "AGENTLEDGER_RUN_DIR": str(where),
            "AGENTLEDGER_RUN_METRICS_PORT": str(self.port),
            "AGENTLEDGER_API_PORT": str(settings.api_port), **(env or {}),
        }  # fmt: skip
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(BIN / "agentledger"), "run", *(services or [])], env=env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def wait_ready(self, timeout_s: float = 120) -> dict[str, Any]:
        """/readyz once it answers 200 (raises with its last answer and the log's tail)."""
        deadline, last = time.monotonic() + timeout_s, "no answer"
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the run ended: {self.tail()}"
            try:
                answer = httpx.get(f"{self.url}/readyz", timeout=5)
            except httpx.TransportError as exc:
                last = str(exc)
            else:
                if answer.status_code == 200:
                    return dict(answer.json())
                last = answer.text
            time.sleep(0.5)
        raise AssertionError(f"not ready after {timeout_s:.0f} s: {last}\n{self.tail()}")

    def pid(self, service: str) -> int:
        """The pid of the child running ``service`` (from supervisorctl)."""
        done = subprocess.run(
            [str(BIN / "supervisorctl"), "-c", str(self.where / "supervisord.conf"), "pid",
             service], capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        return int(done.stdout.strip())

    def metric(self, line_start: str) -> float:
        """The value of the first sample line of /metrics that starts with ``line_start``."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        found = [x for x in text.splitlines() if x.startswith(line_start)]
        return float(found[0].split()[-1]) if found else 0.0

    def tail(self, size: int = 4000) -> str:
        """The end of the run's log."""
        return self.log.read_bytes()[-size:].decode(errors="replace")

    def stop(self, timeout_s: float = 90) -> int:
        """SIGTERM (supervisord stops each child, then itself); its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(30)
        return self.process.returncode


class Prometheus:
    """Debian's Prometheus server on loopback, scraping ``target`` every second."""

    def __init__(self, target: str, where: Path) -> None:
        """Start it (the binary comes from `make install`)."""
        binary = shutil.which("prometheus")
        assert binary is not None, "prometheus is not installed: run `make install`"
        self.port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        config = where / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: agentledger\n"
            f"    static_configs: [{{targets: ['{target}']}}]\n"
        )
        with (where / "prometheus.log").open("ab") as out:
            self.process = subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.tsdb.path={where / 'data'}",
                 f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def query(self, expression: str) -> list[tuple[dict[str, str], float]]:
        """The instant vector of ``expression``: (labels, value) per series."""
        try:
            answer = httpx.get(f"{self.url}/api/v1/query", params={"query": expression}, timeout=10)
        except httpx.TransportError:
            return []
        if answer.status_code != 200:
            return []
        return [(r["metric"], float(r["value"][1])) for r in answer.json()["data"]["result"]]

    def wait_for(
        self, expression: str, timeout_s: float = 60
    ) -> list[tuple[dict[str, str], float]]:
        """The result of ``expression`` once it is not empty (a comparison that holds)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.query(expression)
            if found:
                return found
            time.sleep(0.5)
        raise AssertionError(f"Prometheus never saw {expression!r} within {timeout_s:.0f} s")

    def stop(self) -> None:
        """Stop the server."""
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)
