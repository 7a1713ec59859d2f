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
class AuthenticationFailure:
    """Why a proposal is not taken to be from the agent it names; the key it came with."""

    message: str
    key_id: str | None
    vouched: bool = False
    """The API attested that the agent sent it (only its own signature failed): the agent
    may be told, as the rejection can only be its own."""


def authentication_problem(
    proposal: ActionProposed, agent: Agent | None, attesters: Mapping[str, Attester]
) -> AuthenticationFailure | None:
    """Why ``proposal`` is not from ``agent`` (the agent it names, if registered), or ``None``.

    The keys are looked up before anything is computed: a made-up key id costs nothing.
    """
    claimed = f"a proposal naming agent {proposal.agent_id!r}"
    found = _keys(proposal, agent, attesters, claimed)
    if isinstance(found, AuthenticationFailure):
        return found
    try:
        data = signing_input(proposal)
    except Unsignable as exc:
        proof = proposal.signature or proposal.attestation
        key = proof.key_id if proof is not None else None
        return AuthenticationFailure(f"{claimed} cannot have been signed: {exc}", key)
    attester, public = found
    attestation, signature = proposal.attestation, proposal.signature
    if attestation and attester and not valid(attestation, attester.public_key, data):
        message = f"{claimed}: the {attester.name}'s attestation does not verify"
        return AuthenticationFailure(message, attestation.key_id)
    if signature is None or (isinstance(public, bytes) and valid(signature, public, data)):
        return None
    vouched = attester is not None and not attester.compensations_only
    problem = public if isinstance(public, str) else "the signature does not verify"
    return AuthenticationFailure(f"{claimed}: {problem}", signature.key_id, vouched=vouched)


def _keys(
    proposal: ActionProposed, agent: Agent | None, attesters: Mapping[str, Attester], claimed: str
) -> AuthenticationFailure | tuple[Attester | None, bytes | str | None]:
    """The attester and the agent key the proofs name, or why one of them is not acceptable."""
    signature, attestation = proposal.signature, proposal.attestation
    if signature is None and attestation is None:
        return AuthenticationFailure(f"{claimed} carries no signature and no attestation", None)
    attester = public = None
    if attestation is not None:
        attester = attesters.get(attestation.key_id)
        problem = _attester_problem(proposal, attester)
        if problem is not None:
            return AuthenticationFailure(f"{claimed}: {problem}", attestation.key_id)
    if signature is not None:
        public = _agent_key(signature, agent)
        if isinstance(public, str) and attester is None:
            return AuthenticationFailure(f"{claimed}: {public}", signature.key_id)
    return attester, public  # a key, or why none (told once the attestation holds)


def _attester_problem(proposal: ActionProposed, attester: Attester | None) -> str | None:
    if attester is None:
        return "its attestation is by no service's key"
    compensation = proposal.idempotency_key.startswith(COMPENSATION_PREFIX)
    if attester.compensations_only and not compensation:
        return f"the {attester.name} attests compensations only"
    return None


def _agent_key(signature: Signature, agent: Agent | None) -> bytes | str:
    """The registered public key the signature names, or why there is none."""
    public = agent.keys.get(signature.key_id) if agent is not None else None
    if public is not None:
        return public
    revoked = agent is not None and signature.key_id in agent.revoked_keys
    return f"its key {'was revoked' if revoked else 'is not registered for that agent'}"
