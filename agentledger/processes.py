"""Services that run as processes of their own next to an in-process run (demo, tests).

The reconciler is a faust worker: it owns its event loop and signal handlers, so next to
threads of other services it runs as an `agentledger reconciler` child process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from agentledger.bootstrap import observer
from agentledger.credentials import kafka_access
from agentledger.settings import Settings
from infra.connectors.registry import Connectors
from infra.kafka_acls import OPERATOR
from infra.kafka_config import client_config
from infra.watermarks import watermarks

CLI = Path(sys.executable).parent / "agentledger"


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process use ``settings``' ledger, topics and windows."""
    return {
        **os.environ,
        "AGENTLEDGER_LEDGER_NAME": settings.ledger_name,
        "AGENTLEDGER_TOPIC_PREFIX": settings.topic_prefix,
        "AGENTLEDGER_RECONCILER_SETTLE_S": str(settings.reconciler_settle_s),
        "AGENTLEDGER_RECONCILER_STALE_AFTER_S": str(settings.reconciler_stale_after_s),
        "AGENTLEDGER_RECONCILER_TICK_S": str(settings.reconciler_tick_s),
        "AGENTLEDGER_RECONCILER_COMMIT_S": str(settings.reconciler_commit_s),
        "AGENTLEDGER_POLICY_BUNDLE": str(settings.policy_bundle),
    }


def reconciler_progress(settings: Settings) -> list[tuple[int, int]]:
    """Per partition of ``observations.v1``: (offset the reconciler committed, high watermark).

    A partition written in transactions ends with a commit marker, so a reconciler that
    has read everything there stands at ``high - 1``; it is ``-1`` before any commit.
    """
    topic = settings.topic("observations.v1")
    consumer = Consumer(client_config(kafka_access(settings, OPERATOR), {
        "group.id": f"{settings.topic_prefix}reconciler.{settings.ledger_name}",
    }))  # fmt: skip
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.partitions)]
        committed = consumer.committed(partitions, timeout=10)
        highs = [watermarks(consumer, tp)[1] for tp in partitions]
    finally:
        consumer.close()
    return [(tp.offset, high) for tp, high in zip(committed, highs, strict=True)]


class ReconcilerProcess:
    """One `agentledger reconciler` child process, logging to a file."""

    def __init__(self, settings: Settings, log: Path) -> None:
        """Start it; :meth:`wait_ready` waits until its faust worker is ready."""
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._out = log.open("ab")
        self._start = self._out.tell()
        self.process = subprocess.Popen(
            [str(CLI), "reconciler"], env=settings_env(settings), stdout=self._out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, timeout_s: float = 90) -> None:
        """Until the worker logs that it is ready (raises with the log's tail otherwise)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if b"[^Worker]: Ready" in self._written():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.3)
        tail = self._written()[-3000:].decode(errors="replace")
        self.stop()
        raise RuntimeError(f"the reconciler did not get ready (log {self.log}):\n{tail}")

    def _written(self) -> bytes:
        """What this process logged (the file may hold earlier runs)."""
        with self.log.open("rb") as log:
            log.seek(self._start)
            return log.read()

    def kill(self) -> None:
        """SIGKILL, no goodbye."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        """SIGTERM (faust commits and leaves), SIGKILL if it is not gone within 30 s."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._out.close()


class ObserverThread:
    """The observer in a thread of its own, so it can be stopped and started again."""

    def __init__(self, settings: Settings, systems: Connectors) -> None:
        """Not started yet."""
        self.settings, self.systems = settings, systems
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Observe until :meth:`stop`."""
        self._stop = threading.Event()
        the_observer = observer(self.settings, self.systems)
        self._thread = threading.Thread(target=the_observer.run, args=(self._stop,), daemon=True)
        self._thread.start()
        if not the_observer.ready.wait(60):
            raise RuntimeError("the observer did not start within 60 s")

    def stop(self) -> None:
        """Stop observing (the change feeds go unread)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
