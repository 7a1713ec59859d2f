"""The compatibility gate behind `agentledger schemas check`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.serde.catalog import Catalog
from infra.serde.compat import backward_problems
from infra.serde.history import committed_versions
from infra.serde.registrar import Registrar


@dataclass(frozen=True)
class Finding:
    """One reason a contract may not ship: which record, against what, and why."""

    record: str
    against: str
    problem: str


def check_contracts(catalog: Catalog, registrar: Registrar | None) -> list[Finding]:
    """Everything wrong with the contracts in ``catalog`` (empty: safe to ship).

    Each record must document itself and every field, read data written with every
    earlier committed version of its file, and read every version the registry holds
    (BACKWARD_TRANSITIVE), which the registry must confirm.
    """
    findings = [Finding(c.name, "docs", p) for c in catalog for p in missing_docs(c.schema)]
    for commit, old_schemas in committed_versions(catalog.schemas_dir):
        for contract in catalog:
            old = old_schemas.get(contract.name)
            problems = backward_problems(contract.schema, old) if old is not None else []
            findings += [Finding(contract.name, f"commit {commit}", p) for p in problems]
    if registrar is None:
        return _unique(findings)
    for contract in catalog:
        for number, old in enumerate(registrar.versions(contract.fullname), start=1):
            problems = backward_problems(contract.schema, old)
            findings += [Finding(contract.name, f"registry v{number}", p) for p in problems]
        if not registrar.accepts(contract):
            findings.append(Finding(contract.name, "registry", "the registry refuses it"))
    return _unique(findings)


def missing_docs(schema: Any, seen: set[str] | None = None) -> list[str]:  # noqa: ANN401  # schema
    """Records, enums and fields without a ``doc``."""
    seen = set() if seen is None else seen
    if isinstance(schema, list):
        return [p for branch in schema for p in missing_docs(branch, seen)]
    if not isinstance(schema, dict):
        return []
    problems = []
    kind = schema.get("type")
    if kind in {"record", "enum"} and schema["name"] not in seen:
        seen.add(schema["name"])
        short = str(schema["name"]).rsplit(".", 1)[-1]
        if not schema.get("doc"):
            problems.append(f"{short}: no doc")
        for field in schema.get("fields", []):
            if not field.get("doc"):
                problems.append(f"{short}.{field['name']}: no doc")
            problems += missing_docs(field["type"], seen)
    for key in ("items", "values"):
        if key in schema:
            problems += missing_docs(schema[key], seen)
    return problems


def _unique(findings: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(findings))
