"""Credentials generated once per deployment, kept in one file only its owner can read.

Nothing the stack uses is a default: each credential is drawn from the OS's random
source the first time it is asked for, then read back from the file ever after. The
file is written whole to a temporary file (mode 0600) and renamed over the old one,
under an exclusive lock, so two `agentledger up` at once agree on every credential.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SECRETS_FILE = "secrets.json"
"""Its name in the state folder."""
FILE_MODE = 0o600
DIR_MODE = 0o700
TOKEN_BYTES = 32


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by its owner only (it holds a credential)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    os.fchmod(descriptor, FILE_MODE)  # an existing file keeps its mode through os.open
    with os.fdopen(descriptor, "w") as out:
        out.write(text)


class Secrets:
    """The deployment's credentials, by name (e.g. ``registry.operator``)."""

    def __init__(self, path: Path) -> None:
        """Kept in ``path`` (created on first use, with its folder, for the owner only)."""
        self.path = path

    def get(self, name: str) -> str:
        """The credential ``name``, generated (and saved) if this deployment has none yet."""
        found = self.find(name)
        if found is not None:
            return found
        with self._locked():
            held = self._read()
            if name not in held:
                held[name] = secrets.token_urlsafe(TOKEN_BYTES)
                self._write(held)
            return held[name]

    def find(self, name: str) -> str | None:
        """The credential ``name`` if it was generated, else ``None`` (never generates)."""
        return self._read().get(name)

    def named(self, prefix: str) -> dict[str, str]:
        """Every credential whose name starts with ``prefix``, by name."""
        return {name: value for name, value in self._read().items() if name.startswith(prefix)}

    def _read(self) -> dict[str, str]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return {}
        held = json.loads(text)
        if not isinstance(held, dict):
            raise TypeError(f"{self.path} must hold a JSON object of credentials")
        return {str(k): str(v) for k, v in held.items()}

    def _write(self, held: dict[str, str]) -> None:
        temporary = self.path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(descriptor, "w") as out:
            json.dump(held, out, indent=2, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(self.path)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        lock = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            os.close(lock)
