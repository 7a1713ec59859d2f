"""The CRM simulator (``simulators.crm_saas``): the ``crm`` system of record, run locally.

A plain Python process on its own port, its SQLite file under ``state_dir/crm``, so its
records survive restarts like a real vendor's would.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import httpx

from infra.stack.component import ComponentStatus
from infra.stack.config import StackConfig
from infra.stack.process import OwnedProcess
from infra.stack.wait import wait_healthy

NAME = "crm"
SOURCE_ROOT = Path(__file__).resolve().parents[2]
"""The folder holding the ``simulators`` package (the checkout, or site-packages)."""


class LocalCrm:
    """The project's own CRM simulator process."""

    name = NAME

    def __init__(self, config: StackConfig) -> None:
        """Place the simulator's data under ``config.state_dir / "crm"``."""
        self._config = config
        self._home = config.state_dir / "crm"
        self._log = config.logs / "crm.log"
        self._process = OwnedProcess(self._home / "crm.pid", f"--data {self._home}")

    def ports(self) -> dict[str, int]:
        """The HTTP port."""
        return {"crm_port": self._config.crm_port}

    def pid(self) -> int | None:
        """The simulator's pid if it runs (and is ours)."""
        return self._process.pid()

    def launch(self) -> bool:
        """Start ``python -m simulators.crm_saas`` on the configured port."""
        if self._process.pid() is not None:
            return False
        self._home.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable, "-m", "simulators.crm_saas",
            "--port", str(self._config.crm_port), "--data", str(self._home),
        ]  # fmt: skip
        path = os.pathsep.join(filter(None, [str(SOURCE_ROOT), os.environ.get("PYTHONPATH")]))
        self._process.launch(argv, self._log, dict(os.environ, PYTHONPATH=path), self._home)
        return True

    def await_healthy(self) -> None:
        """Wait until ``/admin/health`` answers."""
        wait_healthy(
            NAME, lambda: probe(self._config.crm_url),
            timeout_s=self._config.start_timeout_s, log=self._log,
            alive=lambda: self._process.pid() is not None,
        )  # fmt: skip

    def status(self) -> ComponentStatus:
        """Pid, health and the version the simulator reports."""
        problem = probe(self._config.crm_url)
        version = "?" if problem else crm_version(self._config.crm_url)
        return ComponentStatus(
            NAME, self._config.crm_url, self._process.pid(), problem is None,
            version, self._log, external=False, problem=problem,
        )  # fmt: skip

    def stop(self) -> bool:
        """SIGTERM (it closes its database and exits), SIGKILL after 10 s."""
        return self._process.stop(timeout_s=10.0)


def probe(url: str) -> str | None:
    """``None`` if ``GET {url}/admin/health`` answers 200 within 2 s, else why not."""
    try:
        response = httpx.get(f"{url.rstrip('/')}/admin/health", timeout=2.0)
    except httpx.HTTPError as exc:
        return f"no answer from {url} ({exc.__class__.__name__}: {exc})"
    if response.status_code != httpx.codes.OK:
        return f"{url}/admin/health answered HTTP {response.status_code}"
    return None


def crm_version(url: str) -> str:
    """The version the CRM's health endpoint reports, or ``"?"``."""
    try:
        return str(httpx.get(f"{url.rstrip('/')}/admin/health", timeout=2.0).json()["version"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return "?"
