"""The action catalog: what each action type on each kind of resource does, read from the bundle.

The policy and the executor used to read meaning into names (``*.delete`` deleted, a list
of "high risk" names needed approval), so ``contact.archive.delete`` was allowed without
approval and then deleted. The catalog declares, per ``system/type`` and action type, its
effect, whether and how it is undone, its risk and its typed parameters; the decider
rejects anything outside it, the policy reads the declared effect and risk, and the
executor carries out the declared effect. It lives at ``catalog/data.json`` in the bundle
(``data.agentledger.catalog``), so it is versioned and digested with it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from domain.canonical import canonical_text
from domain.events import ActionProposed
from domain.ids import COMPENSATION_PREFIX, COMPENSATION_SUFFIX
from domain.values import Name
from infra.policy.bundle import Bundle, BundleError


class Risk(StrEnum):
    """How much harm the action can do: the policy decides what each class needs."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class ParameterType(StrEnum):
    """The types a parameter may be declared with; money is a decimal, number or string."""

    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    MONEY = "money"
    OBJECT = "object"
    LIST = "list"
    ANY = "any"


class ActionSpec(BaseModel):
    """One action type as the catalog declares it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    effect: Name
    """What it does to the resource (``create``, ``update``, ``delete``, ``send``...)."""
    reversible: bool
    compensation: str | None = None
    """The action type that undoes it (``<type>.compensate``), declared alongside."""
    undoes: str | None = None
    """For a compensation: the action type it undoes."""
    risk: Risk
    parameters: dict[str, ParameterType] = Field(default_factory=dict)
    required: list[str] = Field(default_factory=list)
    additional_parameters: bool = False
    """Whether parameters not named in ``parameters`` are taken (as any value)."""

    def document(self) -> dict[str, Any]:
        """What the policy input says of the action (``input.action``)."""
        return {"effect": self.effect, "risk": str(self.risk), "reversible": self.reversible,
                "undoes": self.undoes}  # fmt: skip


class ActionCatalog:
    """Every declared action type, by resource (``system/type``) and name."""

    def __init__(self, data: Mapping[str, Any], source: str = "the catalog") -> None:
        """Validate ``data`` (``{"resources": {"crm/contact": {"contact.update": {...}}}}``)."""
        resources = data.get("resources")
        if not isinstance(resources, dict) or not resources:
            raise BundleError(f"{source} declares no resources")
        self._specs: dict[tuple[str, str], ActionSpec] = {}
        for resource, actions in resources.items():
            if not isinstance(actions, dict):
                raise BundleError(f"{source}: {resource} must map action types to declarations")
            for action_type, declared in actions.items():
                try:
                    self._specs[(resource, action_type)] = ActionSpec.model_validate(declared)
                except ValidationError as exc:
                    raise BundleError(f"{source}: {resource} {action_type}: {exc}") from exc
        self._check_compensations(source)
        self.digest = hashlib.sha256(canonical_text(dict(data)).encode()).hexdigest()

    @classmethod
    def of(cls, bundle: Bundle) -> ActionCatalog:
        """The catalog of ``bundle`` (``data.agentledger.catalog``)."""
        data = bundle.data.get("agentledger", {}).get("catalog")
        if not isinstance(data, dict):
            raise BundleError(f"policy bundle {bundle.source} has no catalog/data.json")
        return cls(data, f"policy bundle {bundle.source} catalog")

    def spec(self, system: str, resource_type: str, action_type: str) -> ActionSpec | None:
        """The declaration of ``action_type`` on a ``system/resource_type`` resource."""
        return self._specs.get((f"{system}/{resource_type}", action_type))

    def refusal(self, proposal: ActionProposed) -> tuple[str, str] | None:
        """Why the catalog refuses ``proposal`` (a reason code and message), if it does.

        A type outside the catalog for the resource's kind; a compensation type proposed
        under anything but the key the system reserves for it (the ledger then checks it
        is the compensation it recorded); parameters that break their declared types.
        """
        resource = proposal.resource
        spec = self.spec(resource.system, resource.type, proposal.action_type)
        if spec is None:
            message = (
                f"{proposal.action_type} is not an action type on {resource.system}/"
                f"{resource.type} in the action catalog"
            )
            return "unknown_action_type", message
        if spec.undoes is not None and not proposal.idempotency_key.startswith(COMPENSATION_PREFIX):
            message = (
                f"{proposal.action_type} undoes {spec.undoes}: only the system proposes it, for"
                " an action revoked after it ran"
            )
            return "reserved_action_type", message
        problems = parameter_problems(spec, proposal.parameters)
        if problems:
            return "invalid_parameters", f"the parameters do not fit {proposal.action_type}: " + (
                "; ".join(problems)
            )
        return None

    def declare(self, document: Mapping[str, Any]) -> dict[str, Any] | None:
        """A policy input with this catalog's declaration of its action (``None``: none).

        A candidate bundle's catalog may say otherwise than the one an input was built
        with (or the input predates catalogs): shadow runs and replays declare it anew.
        """
        proposal = document.get("proposal")
        if not isinstance(proposal, dict) or not isinstance(proposal.get("resource"), dict):
            return None
        resource = proposal["resource"]
        spec = self.spec(
            str(resource.get("system")), str(resource.get("type")), str(proposal.get("action_type"))
        )
        if spec is None:
            return None
        parameters = proposal.get("parameters")
        amounts = money_amounts(spec, parameters if isinstance(parameters, dict) else {})
        return {**document, "action": spec.document(), "proposal": {**proposal, "amounts": amounts}}

    def declared(self) -> list[tuple[str, str]]:
        """Every (``system/type``, action type) declared, in order."""
        return sorted(self._specs)

    def _check_compensations(self, source: str) -> None:
        for (resource, action_type), spec in self._specs.items():
            undeclared = sorted(set(spec.required) - set(spec.parameters))
            if undeclared:
                problem = f"required parameters {undeclared} are not declared"
                raise BundleError(f"{source}: {resource} {action_type}: {problem}")
            if spec.undoes is not None:
                self._check_undo(source, resource, action_type, spec)
            if spec.reversible != (spec.compensation is not None):
                problem = "a reversible action names its compensation, an irreversible one none"
                raise BundleError(f"{source}: {resource} {action_type}: {problem}")
            if spec.compensation is None:
                continue
            if spec.compensation != action_type + COMPENSATION_SUFFIX:
                problem = f"its compensation must be {action_type + COMPENSATION_SUFFIX}"
                raise BundleError(f"{source}: {resource} {action_type}: {problem}")
            undo = self._specs.get((resource, spec.compensation))
            if undo is None or undo.undoes != action_type:
                problem = f"its compensation {spec.compensation} is not declared as undoing it"
                raise BundleError(f"{source}: {resource} {action_type}: {problem}")

    def _check_undo(self, source: str, resource: str, action_type: str, spec: ActionSpec) -> None:
        """A compensation undoes a reversible type that names it, with its parameter types."""
        undone = self._specs.get((resource, spec.undoes or ""))
        fits = (
            undone is not None and undone.compensation == action_type
            and spec.parameters == undone.parameters and not spec.reversible
        )  # fmt: skip
        if not fits:
            problem = (
                f"it undoes {spec.undoes}, which must be declared reversible with it as its"
                " compensation, and it must take the same parameter types"
            )
            raise BundleError(f"{source}: {resource} {action_type}: {problem}")


def parameter_problems(spec: ActionSpec, parameters: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``parameters`` for ``spec``, each naming its field (empty: fine)."""
    problems = [f"{name}: required" for name in spec.required if name not in parameters]
    for name, value in parameters.items():
        declared = spec.parameters.get(name)
        if declared is None:
            if not spec.additional_parameters:
                problems.append(f"{name}: not a parameter of this action type")
            continue
        if value is not None and not _fits(declared, value):  # null clears a field
            problems.append(f"{name}: {value!r} is not {_an(declared)}")
    return problems


MONEY_LIMIT = Decimal(10) ** 14
MONEY_PLACES = 4
"""What the ledger holds money as (``domain.values.Money``): 14 integer and 4 fractional digits."""


def money_amounts(spec: ActionSpec, parameters: Mapping[str, Any]) -> dict[str, int | float]:
    """The parameters ``spec`` types as money, as JSON numbers (sent as numbers or strings)."""
    found: dict[str, int | float] = {}
    for name, declared in spec.parameters.items():
        amount = as_money(parameters.get(name)) if declared is ParameterType.MONEY else None
        if amount is not None:
            found[name] = int(amount) if amount == amount.to_integral_value() else float(amount)
    return found


def as_money(value: object) -> Decimal | None:
    """``value`` as an amount money can hold (a number or a decimal string), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, Decimal)) or (isinstance(value, float) and math.isfinite(value)):
        amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    elif isinstance(value, str) and value.strip() == value and value:
        try:
            amount = Decimal(value)
        except InvalidOperation:
            return None
    else:
        return None
    fits = amount.is_finite() and abs(amount) < MONEY_LIMIT
    return amount if fits and int(amount.as_tuple().exponent) >= -MONEY_PLACES else None


def _fits(declared: ParameterType, value: object) -> bool:  # noqa: PLR0911  # one answer per type
    match declared:
        case ParameterType.STRING:
            return isinstance(value, str)
        case ParameterType.INTEGER:
            return isinstance(value, int) and not isinstance(value, bool)
        case ParameterType.NUMBER:
            return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
        case ParameterType.BOOLEAN:
            return isinstance(value, bool)
        case ParameterType.MONEY:
            amount = as_money(value)
            return amount is not None and amount >= 0
        case ParameterType.OBJECT:
            return isinstance(value, dict)
        case ParameterType.LIST:
            return isinstance(value, list)
    return True


def _an(declared: ParameterType) -> str:
    if declared is ParameterType.MONEY:
        return "an amount of money (a non-negative decimal, as a number or a string)"
    return f"{'an' if declared.value[0] in 'aeiou' else 'a'} {declared.value}"
