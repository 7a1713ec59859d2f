"""The compatibility checker names the record and field of every break."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agentledger.bootstrap import SCHEMAS_DIR
from infra.serde.catalog import Catalog
from infra.serde.compat import backward_problems
from infra.serde.gate import check_contracts

pytestmark = pytest.mark.unit

V1: dict[str, Any] = {
    "type": "record", "name": "agentledger.v1.Thing", "doc": "d",
    "fields": [
        {"name": "a", "type": "string", "doc": "d"},
        {"name": "n", "type": ["null", "int"], "default": None, "doc": "d"},
        {"name": "e", "type": {"type": "enum", "name": "Kind", "doc": "d", "symbols": ["X", "Y"]}, "doc": "d"},
    ],
}  # fmt: skip


def _with(**changes: Any) -> dict[str, Any]:
    schema = copy.deepcopy(V1)
    for field in schema["fields"]:
        if field["name"] in changes:
            field.update(changes.pop(field["name"]))
    schema["fields"] += list(changes.values())
    return schema


def test_adding_a_field_with_a_default_and_widening_types_is_compatible() -> None:
    """New optional field, int -> long promotion and a new enum symbol all read old data."""
    new = _with(
        n={"type": ["null", "long"]},
        e={"type": {"type": "enum", "name": "Kind", "doc": "d", "symbols": ["X", "Y", "Z"]}},
        b={"name": "b", "type": "int", "default": 0, "doc": "d"},
    )
    assert backward_problems(new, V1) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"b": {"name": "b", "type": "int", "doc": "d"}}, "Thing.b: field added without a default"),
        ({"a": {"type": "int"}}, "Thing.a: type changed from string to int"),
        ({"n": {"type": ["null", "string"]}}, "Thing.n: union branch int no longer readable"),
        (
            {"e": {"type": {"type": "enum", "name": "Kind", "doc": "d", "symbols": ["X"]}}},
            "Thing.e: enum symbols removed without a default: ['Y']",
        ),
    ],
)
def test_breaking_changes_are_named_by_record_and_field(
    change: dict[str, Any], message: str
) -> None:
    """Each incompatible change yields one message naming record, field and what changed."""
    assert backward_problems(_with(**change), V1) == [message]


def test_gate_finds_a_break_against_an_earlier_commit(tmp_path: Path) -> None:
    """A working-tree schema that cannot read a committed version fails the gate, naming the commit."""
    schemas = tmp_path / "schemas"
    shutil.copytree(SCHEMAS_DIR, schemas)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "v1"], check=True)
    path = schemas / "agentledger.v1.ActionProposed.avsc"
    schema = json.loads(path.read_text())
    next(f for f in schema["fields"] if f["name"] == "confidence")["type"] = "string"
    path.write_text(json.dumps(schema))

    findings = check_contracts(Catalog(schemas), registrar=None)

    assert [(f.record, f.problem) for f in findings] == [
        ("ActionProposed", "ActionProposed.confidence: type changed from double to string")
    ]
    assert findings[0].against.startswith("commit ")


def test_gate_passes_the_committed_contracts_offline() -> None:
    """Today's contracts are documented and read every committed earlier version."""
    assert check_contracts(Catalog(SCHEMAS_DIR), registrar=None) == []
