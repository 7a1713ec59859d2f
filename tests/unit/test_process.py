"""Owned processes: found through their pid file and marker, stopped only if ours."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from infra.stack.errors import StackError
from infra.stack.ports import port_free
from infra.stack.process import OwnedProcess
from infra.stack.wait import wait_healthy

pytestmark = pytest.mark.unit


def _sleeper(tmp_path: Path, marker: str) -> OwnedProcess:
    process = OwnedProcess(tmp_path / "p.pid", marker)
    process.launch(
        [sys.executable, "-c", "import time; time.sleep(60)", marker],
        tmp_path / "p.log", dict(os.environ), tmp_path,
    )  # fmt: skip
    return process


def test_a_launched_process_is_found_and_stopped(tmp_path: Path) -> None:
    """After launch the pid file leads to the live process; stop ends it and removes the file."""
    process = _sleeper(tmp_path, f"marker-{tmp_path.name}")
    pid = process.pid()
    assert pid is not None
    assert process.stop(timeout_s=5)
    assert process.pid() is None
    assert not (tmp_path / "p.pid").exists()


def test_a_pid_file_pointing_at_a_foreign_process_is_not_ours(tmp_path: Path) -> None:
    """A stale pid file whose pid now belongs to another program never leads to killing it."""
    (tmp_path / "p.pid").write_text(f"{os.getpid()}\n")
    process = OwnedProcess(tmp_path / "p.pid", f"marker-not-in-pytest-{tmp_path.name}")
    assert process.pid() is None
    assert not process.stop(timeout_s=1)
    assert os.getpid()  # pytest itself is still alive


def test_a_bound_port_is_reported_taken() -> None:
    """port_free is False while something listens on the port and True after it closes."""
    import socket  # noqa: PLC0415  # only this test needs a raw socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert not port_free(port)
    assert port_free(port)


def test_waiting_for_a_process_that_died_fails_fast_with_its_log(tmp_path: Path) -> None:
    """If the process exits while we wait, the error says so and shows the log tail."""
    log = tmp_path / "x.log"
    log.write_text("boom: config invalid\n")
    with pytest.raises(StackError, match=r"exited while starting[\s\S]*boom: config invalid"):
        wait_healthy("x", lambda: "not yet", timeout_s=30, log=log, alive=lambda: False)


def test_waiting_times_out_with_the_last_problem() -> None:
    """A component that never gets healthy fails after the timeout with the probe's last word."""
    with pytest.raises(StackError, match=r"x: not healthy after 0s: still refusing"):
        wait_healthy("x", lambda: "still refusing", timeout_s=0.3, log=None, interval_s=0.05)
