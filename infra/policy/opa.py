"""Real OPA, built from source through the Go module proxy: the conformance oracle.

Only tests use it, to check that regopy decides exactly as OPA does on our bundle.
The binary is cached per version under the project's cache directory.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

OPA_MODULE = "github.com/open-policy-agent/opa"
OPA_VERSION = "v1.10.1"
BUILD_TIMEOUT_S = 900


class OpaUnavailable(Exception):  # names the condition, like our other errors
    """OPA could not be built here; the message carries the exact error."""


def ensure_opa(cache_dir: Path, version: str = OPA_VERSION) -> Path:
    """The path of an ``opa`` binary of ``version``, built with ``go install`` if missing."""
    home = cache_dir / "opa" / version
    binary = home / "opa"
    if binary.is_file():
        return binary
    go = shutil.which("go") or next(
        (str(p) for p in (Path("/usr/local/go/bin/go"), Path("/usr/lib/go/bin/go")) if p.is_file()),
        None,
    )
    if go is None:
        raise OpaUnavailable("no Go toolchain: `go` is not on PATH nor in /usr/local/go/bin")
    env = {
        **os.environ, "GOBIN": str(home), "GOFLAGS": "-mod=mod",
        "GOMODCACHE": str(cache_dir / "go" / "mod"), "GOCACHE": str(cache_dir / "go" / "build"),
    }  # fmt: skip
    home.mkdir(parents=True, exist_ok=True)
    argv = [go, "install", f"{OPA_MODULE}@{version}"]
    try:
        done = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise OpaUnavailable(f"`{' '.join(argv)}` took over {BUILD_TIMEOUT_S} s") from exc
    if done.returncode != 0 or not binary.is_file():
        detail = f"failed ({done.returncode}): {done.stderr[-2000:]}"
        raise OpaUnavailable(f"`{' '.join(argv)}` {detail}")
    return binary


def opa_evaluate_all(
    opa: Path, bundle_dir: Path, query: str, inputs: list[dict[str, Any]], work: Path
) -> list[Any]:
    """``query`` evaluated by OPA on each input, in one process (inputs passed as data)."""
    cases = work / "conformance" / "data.json"
    cases.parent.mkdir(parents=True, exist_ok=True)
    cases.write_text(json.dumps({"conformance": {"inputs": inputs}}))
    expression = f"[out | some doc in data.conformance.inputs; out := {query} with input as doc]"
    argv = [
        str(opa), "eval", "--v1-compatible", "--format", "json", "--bundle", str(bundle_dir),
        "--data", str(cases), expression,
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"opa eval failed: {done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    return list(result["result"][0]["expressions"][0]["value"])
