"""Who a proposal is from: the agent's own signature, or a service that vouches for it.

A proposal is acted on only if it carries a proof and every proof it carries holds: the
agent's signature with a key registered on that agent and not revoked, and a service's
attestation with that service's key. The API attests the proposals of agents it
authenticated by token; the executor attests the compensations it proposes, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.agent import Agent
from domain.events import ActionProposed
from domain.events.proposals import Signature
from domain.ids import COMPENSATION_PREFIX
from domain.signing import Unsignable, signing_input, valid


@dataclass(frozen=True)
class Attester:
    """A service whose key vouches for proposals: ``name``, its public key, its reach."""

    name: str
    public_key: bytes
    compensations_only: bool = False


@dataclass(frozen=True)
class Unauthenticated:
    """Why a proposal is not taken to be from the agent it names; the key it came with."""

    message: str
    key_id: str | None
    vouched: bool = False
    """The API attested that the agent sent it (only its own signature failed): the agent
    may be told, as the rejection can only be its own."""


def authentication_problem(
    proposal: ActionProposed, agent: Agent | None, attesters: Mapping[str, Attester]
) -> Unauthenticated | None:
    """Why ``proposal`` is not from ``agent`` (the agent it names, if registered), or ``None``."""
    signature, attestation = proposal.signature, proposal.attestation
    claimed = f"a proposal naming agent {proposal.agent_id!r}"
    proof = signature or attestation
    if proof is None:
        return Unauthenticated(f"{claimed} carries no signature and no attestation", None)
    try:
        data = signing_input(proposal)
    except Unsignable as exc:
        return Unauthenticated(f"{claimed} cannot have been signed: {exc}", proof.key_id)
    if attestation is not None:
        problem = _attestation_problem(proposal, attestation, attesters, data)
        if problem is not None:
            return Unauthenticated(f"{claimed}: {problem}", attestation.key_id)
    if signature is not None:
        problem = _signature_problem(signature, agent, data)
        if problem is not None:
            vouched = (
                attestation is not None and not attesters[attestation.key_id].compensations_only
            )
            return Unauthenticated(f"{claimed}: {problem}", signature.key_id, vouched=vouched)
    return None


def _attestation_problem(
    proposal: ActionProposed, attestation: Signature, attesters: Mapping[str, Attester],
    data: bytes,
) -> str | None:  # fmt: skip
    attester = attesters.get(attestation.key_id)
    if attester is None:
        return "its attestation is by no service's key"
    if not valid(attestation, attester.public_key, data):
        return f"the {attester.name}'s attestation does not verify"
    compensation = proposal.idempotency_key.startswith(COMPENSATION_PREFIX)
    if attester.compensations_only and not compensation:
        return f"the {attester.name} attests compensations only"
    return None


def _signature_problem(signature: Signature, agent: Agent | None, data: bytes) -> str | None:
    public = agent.keys.get(signature.key_id) if agent is not None else None
    if public is None:
        revoked = agent is not None and signature.key_id in agent.revoked_keys
        return f"its key {'was revoked' if revoked else 'is not registered for that agent'}"
    if not valid(signature, public, data):
        return "the signature does not verify"
    return None
