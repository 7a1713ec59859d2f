"""`agentledger run` as a test drives it, and a real Prometheus server that scrapes it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from agentledger.bootstrap import ledger
from agentledger.services_run import ServicesRun
from agentledger.settings import Settings
from tests.conftest import free_ports
from tests.decider_helpers import register
from tests.relay_helpers import drop_isolated, isolated_settings

BIN = Path(sys.executable).parent


class SupervisedRun(ServicesRun):
    """`agentledger run` on a free endpoint port (see :class:`ServicesRun`)."""

    def __init__(
        self, settings: Settings, where: Path, services: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        """Start it with ``env`` added."""
        super().__init__(settings, where, free_ports(1)[0], services, env)


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
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it is still there after 30 s."""
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(30)


@contextmanager
def ledger_with_agent(settings: Settings, agent: str) -> Iterator[Settings]:
    """A ledger and topics of their own, with ``agent`` allowed to change contacts."""
    isolated = isolated_settings(settings)
    the_ledger = ledger(isolated)
    register(the_ledger, agent, scopes=["crm:*"], budget=10**6)
    the_ledger.close()
    try:
        yield isolated
    finally:
        drop_isolated(isolated)
