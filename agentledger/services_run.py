"""`agentledger run` as a child process of a program that drives it (the demo, tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from agentledger.processes import CLI, settings_env
from agentledger.settings import Settings
from agentledger.supervision import GROUP

SUPERVISORCTL = CLI.parent / "supervisorctl"


class ServicesRun:
    """`agentledger run SERVICES` in a session of its own, logging to ``where/run.log``."""

    def __init__(  # where it runs, what, and how
        self, settings: Settings, where: Path, port: int, services: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        """Start it (endpoint on ``port``, ``env`` added); :meth:`wait_ready` waits for it."""
        self.where, self.port = where, port
        self.url = f"http://{settings.metrics_host}:{port}"
        self.log = where / "run.log"
        where.mkdir(parents=True, exist_ok=True)
        env = {
            **settings_env(settings), "AGENTLEDGER_RUN_DIR": str(where),
            "AGENTLEDGER_RUN_METRICS_PORT": str(port),
            "AGENTLEDGER_API_PORT": str(settings.api_port), **(env or {}),
        }  # fmt: skip
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(CLI), "run", *(services or [])], env=env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def wait_ready(self, timeout_s: float = 120) -> dict[str, Any]:
        """/readyz once it answers 200 (raises with its last answer and the log's tail)."""
        deadline, last = time.monotonic() + timeout_s, "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"`agentledger run` ended:\n{self.tail()}")
            try:
                answer = httpx.get(f"{self.url}/readyz", timeout=5)
            except httpx.TransportError as exc:
                last = str(exc)
            else:
                if answer.status_code == httpx.codes.OK:
                    return dict(answer.json())
                last = answer.text
            time.sleep(0.5)
        raise RuntimeError(f"not ready after {timeout_s:.0f} s: {last}\n{self.tail()}")

    def control(self, action: str, service: str) -> str:
        """``supervisorctl ACTION SERVICE`` (``stop``, ``start``, ``pid``…); what it printed."""
        name = f"{GROUP}:{service}"
        done = subprocess.run(
            [str(SUPERVISORCTL), "-c", str(self.where / "supervisord.conf"), action, name],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        return done.stdout.strip()

    def pid(self, service: str) -> int:
        """The pid of the child running ``service``."""
        return int(self.control("pid", service))

    def metric(self, line_start: str) -> float:
        """The sum of the samples of /metrics whose lines start with ``line_start`` (0: none)."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        return sum(float(x.split()[-1]) for x in text.splitlines() if x.startswith(line_start))

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
