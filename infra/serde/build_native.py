"""Build the C Avro module beside its source: ``python -m infra.serde.build_native``.

Compiled with the C compiler and flags this Python was built with, into
``_avro_native<EXT_SUFFIX>``; the source's sha256 is compiled in, so a module built from
another version is recognised (and not used). Does nothing when the module beside the
source is already built from it, and writes the new module atomically (a process
importing it meanwhile sees the old one or the new one, never half of one).
Exits 1 with the compiler's message when the build fails.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("_avro_native.c")
TARGET = SOURCE.with_name("_avro_native" + str(sysconfig.get_config_var("EXT_SUFFIX")))


def source_digest() -> str:
    """The sha256 of the C source a built module must have been compiled from."""
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()


def is_current(target: Path = TARGET) -> bool:
    """Whether ``target`` exists and was built from the C source as it is now."""
    return target.exists() and source_digest().encode() in target.read_bytes()


def build(target: Path = TARGET) -> None:
    """Compile the C source into ``target`` (raises CalledProcessError with the output)."""
    compiler = shlex.split(str(sysconfig.get_config_var("CC") or "cc"))
    include = sysconfig.get_paths()["include"]
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        built = Path(scratch) / target.name
        command = [
            *compiler, "-O2", "-fPIC", "-shared", "-Wall", "-Werror", f"-I{include}",
            f'-DSOURCE_SHA256="{source_digest()}"', str(SOURCE), "-o", str(built),
        ]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, text=True)  # our own fixed command
        built.replace(target)


def main() -> int:
    """Build when needed; say what happened."""
    if is_current():
        return 0
    try:
        build()
    except (subprocess.CalledProcessError, OSError) as exc:
        output = getattr(exc, "stderr", "") or str(exc)
        print(f"install: the C Avro module did not build:\n{output}", file=sys.stderr)  # noqa: T201  # a command's report
        return 1
    print(f"install: built {TARGET.name}")  # noqa: T201  # a command's report
    return 0


if __name__ == "__main__":
    sys.exit(main())
