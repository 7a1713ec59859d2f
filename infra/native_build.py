"""Build the C modules beside their sources: ``python -m infra.native_build``.

Each is compiled with the C compiler and flags this Python was built with, into
``<name><EXT_SUFFIX>``; the source's sha256 is compiled in, so a module built from
another version is recognised (and not used). A module already built from its source
as it is now is left alone, and a new one is written atomically (a process importing
it meanwhile sees the old one or the new one, never half of one). Exits 1 with the
compiler's message when a build fails.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import shlex
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).parent
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NativeModule:
    """One C source and the extension module built from it, in the same directory."""

    source: Path

    @property
    def target(self) -> Path:
        """Where the built module goes: beside its source."""
        return self.source.with_suffix(str(sysconfig.get_config_var("EXT_SUFFIX")))

    def source_digest(self) -> str:
        """The sha256 of the C source a built module must have been compiled from."""
        return hashlib.sha256(self.source.read_bytes()).hexdigest()

    def is_current(self, target: Path | None = None) -> bool:
        """Whether ``target`` exists and was built from the C source as it is now."""
        target = target or self.target
        return target.exists() and self.source_digest().encode() in target.read_bytes()

    def load(self, package: str, fallback: str) -> ModuleType | None:
        """The module built from this source, imported from ``package``; ``None`` if there is none.

        A module built from another version of the source is not used either. Each case
        is logged once per call as a warning that starts with ``fallback`` (what runs
        instead, and at what cost).
        """
        try:
            module = importlib.import_module(f"{package}.{self.source.stem}")
        except ImportError as exc:
            log.warning("%s: no C module (%s)", fallback, exc)
            return None
        if self.source.exists() and self.source_digest() != module.SOURCE_SHA256:
            log.warning("%s: the C module is stale; run `make install` to rebuild it", fallback)
            return None
        return module

    def build(self, target: Path | None = None) -> None:
        """Compile the source into ``target`` (raises CalledProcessError with the output)."""
        target = target or self.target
        compiler = shlex.split(str(sysconfig.get_config_var("CC") or "cc"))
        include = sysconfig.get_paths()["include"]
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            built = Path(scratch) / target.name
            command = [
                *compiler, "-O2", "-fPIC", "-shared", "-Wall", "-Werror", f"-I{include}",
                f'-DSOURCE_SHA256="{self.source_digest()}"', str(self.source), "-o", str(built),
            ]  # fmt: skip
            subprocess.run(command, check=True, capture_output=True, text=True)  # our own command
            built.replace(target)


AVRO = NativeModule(HERE / "serde" / "_avro_native.c")
"""Avro bodies read and written from schema programs (:mod:`infra.serde.avro_native`)."""

REGO_INPUT = NativeModule(HERE / "policy" / "_rego_input.c")
"""Policy inputs handed to regopy (:mod:`infra.policy.rego_input`)."""

MODULES = (AVRO, REGO_INPUT)


def main() -> int:
    """Build each module that needs it; say what happened."""
    for module in MODULES:
        if module.is_current():
            continue
        try:
            module.build()
        except (subprocess.CalledProcessError, OSError) as exc:
            output = getattr(exc, "stderr", "") or str(exc)
            print(f"install: {module.source.name} did not build:\n{output}", file=sys.stderr)  # noqa: T201  # a command's report
            return 1
        print(f"install: built {module.target.name}")  # noqa: T201  # a command's report
    return 0


if __name__ == "__main__":
    sys.exit(main())
