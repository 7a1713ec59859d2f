"""Find a Java runtime new enough for the broker and the registry."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

from infra.stack.errors import StackError

MIN_MAJOR = 17


@cache
def java(component: str) -> str:
    """Path of ``java`` (``$JAVA_HOME`` first, then ``PATH``), checked to be Java 17+."""
    home = os.environ.get("JAVA_HOME")
    found = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if found is None or not Path(found).exists():
        raise StackError(component, "no Java runtime found (need 17+); run `make install`")
    done = subprocess.run(
        [found, "-version"], capture_output=True, text=True, timeout=30, check=False
    )
    match = re.search(r'version "(\d+)', done.stderr)
    major = int(match.group(1)) if match else 0
    if major < MIN_MAJOR:
        raise StackError(component, f"{found} is Java {major or '?'}; Java {MIN_MAJOR}+ is needed")
    return found
