"""The drift rules of the policy bundle: ignored fields, owned fields, severities."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from domain.events.drift import DriftClass, Severity
from domain.values import ResourceRef

ENTRYPOINT = "agentledger/drift/verdict"
RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


@dataclass(frozen=True)
class Verdict:
    """What the bundle says about one field of one kind of resource, for one drift class."""

    ignored: bool
    owned: bool
    severity: Severity


class DriftRules:
    """Verdicts from ``query`` (the bundle), cached per (class, system, type, field).

    The cache assumes what ``drift.rego`` documents: verdicts depend on the system, the
    resource type and the field, never on the resource id.
    """

    def __init__(self, query: Callable[[str, dict[str, Any]], Any]) -> None:
        """Ask ``query(entrypoint, input)`` (e.g. a compiled bundle's) for verdicts."""
        self._query = query
        self._cache: dict[tuple[str, str, str, str], Verdict] = {}

    def verdict(self, drift_class: DriftClass, resource: ResourceRef, field: str) -> Verdict:
        """The verdict for ``field`` of ``resource`` under ``drift_class``."""
        key = (drift_class.value, resource.system, resource.type, field)
        found = self._cache.get(key)
        if found is None:
            raw = self._query(ENTRYPOINT, {
                "class": drift_class.value, "field": field,
                "resource": {"system": resource.system, "type": resource.type,
                             "id": resource.id, "key": resource.key},
            })  # fmt: skip
            found = Verdict(bool(raw["ignored"]), bool(raw["owned"]), _severity(raw["severity"]))
            self._cache[key] = found
        return found

    def severity(
        self, drift_class: DriftClass, resource: ResourceRef, fields: list[str]
    ) -> Severity:
        """The highest severity over ``fields`` (the class's own when there are none)."""
        grades = [self.verdict(drift_class, resource, f).severity for f in fields or [""]]
        return max(grades, key=RANK.__getitem__)


def _severity(raw: object) -> Severity:
    try:
        return Severity(str(raw))
    except ValueError:
        return Severity.WARNING
