"""Evaluate a compiled bundle: one policy input in, one decision out.

Each bundle is compiled once (``Interpreter.build``) and queried through its entry
points; ``Interpreter.query`` would recompile on every call. An engine is not
thread-safe: give each thread its own.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from regopy import Interpreter
from regopy.rego_shared import (
    rego_bundle_query_entrypoint,
    rego_free_output,
    rego_output_ok,
    rego_output_string,
)

from domain.events.decisions import DecisionOutcome
from domain.events.proposals import Reason
from infra.policy.bundle import Bundle, BundleError
from infra.policy.catalog import ActionCatalog
from infra.policy.rego_input import InputError, set_input
from infra.telemetry.metrics import POLICY_SECONDS

DECISION = "agentledger/decision/result"
DRIFT = "agentledger/drift/verdict"


class PolicyError(Exception):
    """The bundle failed to evaluate, or returned something that is not a decision."""


class PolicyObligations(BaseModel):
    """What a decision requires; keys beyond these are kept as extra obligations."""

    model_config = ConfigDict(extra="allow", frozen=True)

    approvals_required: int = Field(default=0, ge=0, le=100)
    approver_roles: list[str] = Field(default_factory=list)
    approval_ttl_seconds: int | None = Field(default=None, gt=0)


class PolicyResult(BaseModel):
    """One evaluation: ``{outcome, reasons: [{code, message}], obligations}``."""

    model_config = ConfigDict(frozen=True)

    outcome: DecisionOutcome
    reasons: list[Reason]
    obligations: PolicyObligations


class PolicyEngine:
    """A bundle compiled once, queried per input."""

    def __init__(self, bundle: Bundle) -> None:
        """Compile ``bundle``; a :class:`BundleError` names what does not compile."""
        self.bundle = bundle
        self._rego = Interpreter()
        try:
            for name, text in bundle.modules.items():
                self._rego.add_module(name, text)
            self._rego.add_data_json(json.dumps(bundle.data))
            entrypoints = [DECISION]
            if any("package agentledger.drift" in text for text in bundle.modules.values()):
                entrypoints.append(DRIFT)
            self._compiled = self._rego.build(None, entrypoints)
        except Exception as exc:  # regopy raises its own error types
            raise BundleError(f"policy bundle {bundle.source} does not compile: {exc}") from exc
        if not self._compiled.ok():
            raise BundleError(f"policy bundle {bundle.source} does not compile")
        self.entrypoints = tuple(entrypoints)

    @functools.cached_property
    def catalog(self) -> ActionCatalog:
        """The bundle's action catalog (:class:`BundleError` if it has none, or a broken one)."""
        return ActionCatalog.of(self.bundle)

    @property
    def digest(self) -> str:
        """The compiled bundle's digest."""
        return self.bundle.digest

    def evaluate(self, document: dict[str, Any]) -> PolicyResult:
        """The decision for the policy input ``document`` (JSON types only)."""
        with POLICY_SECONDS.time():
            raw = self.query(DECISION, document)
        try:
            return PolicyResult.model_validate(raw)
        except ValidationError as exc:
            raise PolicyError(f"the bundle's decision is malformed: {exc}") from exc

    def evaluate_declared(self, document: dict[str, Any]) -> PolicyResult:
        """The decision on an input built elsewhere, its action declared by this catalog.

        A type this catalog does not declare would not reach the policy: it is answered
        as the rejection it would be (shadow runs and replays of candidate bundles).
        """
        declared = self.catalog.declare(document)
        if declared is None:
            return PolicyResult.model_validate({
                "outcome": "deny", "obligations": {}, "reasons": [{
                    "code": "unknown_action_type",
                    "message": "the action type is not in this bundle's action catalog",
                }],
            })  # fmt: skip
        return self.evaluate(declared)

    def query(self, entrypoint: str, document: dict[str, Any]) -> Any:  # noqa: ANN401  # JSON
        """The raw value of ``entrypoint`` for the input ``document``."""
        if entrypoint not in self.entrypoints:
            raise PolicyError(f"the bundle has no entry point {entrypoint}")
        try:
            set_input(self._rego._impl, document)  # noqa: SLF001  # the handle regopy wraps
        except InputError as exc:
            raise PolicyError(str(exc)) from exc
        output = rego_bundle_query_entrypoint(
            self._rego._impl,  # noqa: SLF001  # regopy's Output wrapper would parse twice
            self._compiled._impl,  # noqa: SLF001
            entrypoint,
        )
        try:
            text = rego_output_string(output)
            if not rego_output_ok(output):
                raise PolicyError(f"{entrypoint} failed: {text}")
        finally:
            rego_free_output(output)
        if text == "undefined":
            raise PolicyError(f"{entrypoint} is undefined for this input")
        try:  # regopy leaves control characters unescaped in strings: parse leniently
            results = json.loads(text, strict=False)
            first = results[0] if isinstance(results, list) else results
            return first["expressions"][0]
        except (ValueError, LookupError, TypeError) as exc:
            raise PolicyError(f"{entrypoint} returned unreadable output: {exc}") from exc
