"""Earlier committed versions of the schema files, read from git."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastavro.schema import load_schema


def committed_versions(schemas_dir: Path) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    """For each commit that touched ``schemas_dir``: (short sha, expanded schema by name).

    Nothing is yielded outside a git work tree (e.g. an unpacked release).
    """
    git = shutil.which("git")
    root = _toplevel(git, schemas_dir) if git else None
    if git is None or root is None:
        return
    relative = schemas_dir.resolve().relative_to(root)
    commits = _git(git, root, "rev-list", "HEAD", "--", str(relative)).split()
    for commit in commits:
        with tempfile.TemporaryDirectory() as tmp:
            names = _git(git, root, "ls-tree", "--name-only", commit, f"{relative}/").split()
            for name in (n for n in names if n.endswith(".avsc")):
                text = _git(git, root, "show", f"{commit}:{name}")
                (Path(tmp) / Path(name).name).write_text(text)
            yield commit[:10], _expand_all(Path(tmp))


def _expand_all(folder: Path) -> dict[str, dict[str, Any]]:
    schemas = {}
    for path in folder.glob("*.avsc"):
        try:
            schema = load_schema(str(path), _write_hint=False)
        except (ValueError, KeyError, json.JSONDecodeError):
            continue  # an old file that no longer parses alone cannot constrain today's
        if not isinstance(schema, dict):
            continue
        schemas[str(schema["name"]).rsplit(".", 1)[-1]] = schema
    return schemas


def _toplevel(git: str, folder: Path) -> Path | None:
    done = subprocess.run(
        [git, "-C", str(folder), "rev-parse", "--show-toplevel"],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    return Path(done.stdout.strip()) if done.returncode == 0 else None


def _git(git: str, root: Path, *args: str) -> str:
    done = subprocess.run(
        [git, "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout
