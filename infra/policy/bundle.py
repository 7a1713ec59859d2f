"""A policy bundle on disk: its Rego modules, its data, its digest and its version."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = ".manifest"
UNVERSIONED = "unversioned"


class BundleError(Exception):
    """The bundle cannot be loaded or compiled; the message names the file."""


@dataclass(frozen=True)
class Bundle:
    """The files of one bundle, read once; ``digest`` is sha256 over paths and contents."""

    source: str
    modules: dict[str, str]
    data: dict[str, Any]
    version: str
    digest: str
    files: list[str]


def load_bundle(root: Path) -> Bundle:
    """Read the bundle in ``root``: ``*.rego`` modules, ``data.json`` files, ``.manifest``.

    A ``data.json`` at ``a/b/data.json`` becomes ``data.a.b``, as OPA loads bundles.
    """
    if not root.is_dir():
        raise BundleError(f"policy bundle {root} is not a directory")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and _belongs(p, root))
    contents = {p.relative_to(root).as_posix(): p.read_bytes() for p in paths}
    modules = {name: text.decode() for name, text in contents.items() if name.endswith(".rego")}
    if not modules:
        raise BundleError(f"policy bundle {root} has no .rego module")
    data: dict[str, Any] = {}
    for name, text in contents.items():
        if name.endswith("data.json"):
            _merge(data, name, _json(name, text))
    manifest = _json(MANIFEST, contents[MANIFEST]) if MANIFEST in contents else {}
    return Bundle(
        source=str(root),
        modules=modules,
        data=data,
        version=str(manifest.get("revision") or UNVERSIONED),
        digest=bundle_digest(contents),
        files=sorted(contents),
    )


def bundle_digest(contents: dict[str, bytes]) -> str:
    """sha256 over each file's relative path and content, in path order."""
    outer = hashlib.sha256()
    for name in sorted(contents):
        outer.update(name.encode() + b"\x00" + hashlib.sha256(contents[name]).digest())
    return outer.hexdigest()


def _belongs(path: Path, root: Path) -> bool:
    name = path.relative_to(root).as_posix()
    if name == MANIFEST:
        return True
    hidden = any(part.startswith(".") for part in path.relative_to(root).parts)
    tests = name.startswith("testdata/") or name.endswith("_test.rego")
    return not hidden and not tests and path.suffix in {".rego", ".json"}


def _json(name: str, text: bytes) -> Any:  # noqa: ANN401  # any JSON document
    try:
        return json.loads(text)
    except ValueError as exc:
        raise BundleError(f"policy bundle file {name} is not valid JSON: {exc}") from exc


def _merge(data: dict[str, Any], name: str, value: Any) -> None:  # noqa: ANN401  # JSON
    node = data
    for part in name.split("/")[:-1]:
        node = node.setdefault(part, {})
    if not isinstance(value, dict):
        raise BundleError(f"policy bundle file {name} must hold a JSON object")
    node.update(value)
