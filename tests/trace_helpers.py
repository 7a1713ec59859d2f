"""A real Jaeger (its v2 binary, built by `make install`) receiving OTLP on loopback."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_ports
from tests.run_helpers import stop_process

JAEGER = Path(
    os.environ.get("AGENTLEDGER_JAEGER", Path.home() / ".cache/agentledger/jaeger-v1.75.0")
)


class Jaeger:
    """Jaeger with in-memory storage: OTLP/HTTP in, its query API out, both on loopback."""

    def __init__(self, where: Path) -> None:
        """Start it."""
        assert JAEGER.is_file(), f"{JAEGER} is missing: run `make install`"
        otlp, query, query_grpc = free_ports(3)
        self.otlp = f"http://127.0.0.1:{otlp}"
        self.query = f"http://127.0.0.1:{query}"
        config = where / "jaeger.yaml"
        config.write_text(
            "service:\n"
            "  extensions: [jaeger_storage, jaeger_query]\n"
            "  pipelines:\n"
            "    traces: {receivers: [otlp], processors: [batch], exporters: [jaeger_storage_exporter]}\n"
            "  telemetry: {metrics: {level: none}, logs: {level: warn}}\n"
            "extensions:\n"
            "  jaeger_query:\n"
            "    storage: {traces: memstore}\n"
            f"    http: {{endpoint: '127.0.0.1:{query}'}}\n"
            f"    grpc: {{endpoint: '127.0.0.1:{query_grpc}'}}\n"
            "  jaeger_storage:\n"
            "    backends: {memstore: {memory: {max_traces: 10000}}}\n"
            f"receivers: {{otlp: {{protocols: {{http: {{endpoint: '127.0.0.1:{otlp}'}}}}}}}}\n"
            "processors: {batch: {timeout: 100ms}}\n"
            "exporters: {jaeger_storage_exporter: {trace_storage: memstore}}\n"
        )
        with (where / "jaeger.log").open("ab") as out:
            self.process = subprocess.Popen(
                [str(JAEGER), f"--config=file:{config}"], stdout=out, stderr=subprocess.STDOUT
            )
        self._wait_up(where / "jaeger.log")

    def _wait_up(self, log: Path) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"jaeger exited: {log.read_text()[-2000:]}"
            try:
                if httpx.get(f"{self.query}/api/services", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError("jaeger did not start within 60 s")

    def spans(self, trace_id: str) -> list[dict[str, Any]]:
        """The spans of ``trace_id`` (hex), each with ``service`` added; [] if unknown yet."""
        answer = httpx.get(f"{self.query}/api/traces/{trace_id}", timeout=10)
        if answer.status_code != 200:
            return []
        found = answer.json().get("data") or []
        if not found:
            return []
        processes = found[0]["processes"]
        return [{**span, "service": processes[span["processID"]]["serviceName"]}
                for span in found[0]["spans"]]  # fmt: skip

    def stop(self) -> None:
        """Stop the server."""
        stop_process(self.process)
