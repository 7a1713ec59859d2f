"""Who a proposal is from: signing input, agent keys, and the decider's verdict on each proof."""

from __future__ import annotations

from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consumers.decider.authentication import Attester, authentication_problem
from domain import errors
from domain.agent import Agent
from domain.ids import compensation_key
from domain.signing import (
    Unsignable,
    as_agent,
    as_service,
    key_id,
    public_bytes,
    signing_input,
)
from tests.domain_helpers import Clock, proposal

pytestmark = pytest.mark.unit

AGENT_KEY, OTHER_KEY = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
API_KEY, EXECUTOR_KEY = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
ATTESTERS = {
    key_id(public_bytes(API_KEY)): Attester("api", public_bytes(API_KEY)),
    key_id(public_bytes(EXECUTOR_KEY)): Attester(
        "executor", public_bytes(EXECUTOR_KEY), compensations_only=True
    ),
}


def _agent(clock: Clock, *keys: Ed25519PrivateKey) -> Agent:
    agent = Agent.register(
        clock.ctx(), agent_id="agent-1", name="a", owner="o", scopes=["*"],
        budget_limit=Decimal(10),
    )  # fmt: skip
    for key in keys:
        agent.register_key(clock.ctx(), public_key=public_bytes(key), by="test")
    return agent


def test_the_signing_input_is_the_jcs_text_of_the_documented_members() -> None:
    """Sorted members, the resource as its key, decimals tagged, money at 4 places."""
    p = proposal(parameters={"amount": Decimal("25000.00"), "n": 1.0}, estimated_cost=Decimal(2))
    assert signing_input(p) == (
        b'{"action_type":"contact.update","agent_id":"agent-1","confidence":0.9,'
        b'"estimated_cost":"2.0000","idempotency_key":"k1","parameters":{"amount":'
        b'{"$decimal":"25000.00"},"n":1},"plan_id":null,"preconditions":{"email":"old@x.io"},'
        b'"rationale":null,"resource":"crm/contact/42","schema":"agentledger.v1.ActionProposed"}'
    )


def test_an_integer_beyond_two_to_the_53_cannot_be_signed() -> None:
    """JCS numbers are doubles: the agent is told to send such a value as a decimal."""
    with pytest.raises(Unsignable, match="Decimal"):
        signing_input(proposal(parameters={"id": 2**53}))
    with pytest.raises(Unsignable, match="canonical form"):
        signing_input(proposal(parameters={"text": "\ud800"}))


def test_a_proposal_signed_with_a_registered_key_is_authentic() -> None:
    """The agent's key, registered and not revoked, over the very proposal."""
    agent = _agent(Clock(), AGENT_KEY)
    assert authentication_problem(as_agent(AGENT_KEY)(proposal()), agent, ATTESTERS) is None


@pytest.mark.parametrize(
    ("signed", "expected"),
    [
        (proposal(), "carries no signature and no attestation"),
        (as_agent(OTHER_KEY)(proposal()), "its key is not registered for that agent"),
        (
            as_agent(AGENT_KEY)(proposal()).model_copy(update={"parameters": {"email": "evil"}}),
            "the signature does not verify",
        ),
        (as_service(OTHER_KEY)(proposal()), "its attestation is by no service's key"),
        (as_service(EXECUTOR_KEY)(proposal()), "the executor attests compensations only"),
    ],
    ids=["unsigned", "another key", "altered after signing", "unknown attester", "executor"],
)
def test_every_other_proof_is_unauthenticated_and_names_the_key(
    signed: object, expected: str
) -> None:
    """Missing, foreign, altered or out-of-reach proofs are refused with the reason and key."""
    found = authentication_problem(signed, _agent(Clock(), AGENT_KEY), ATTESTERS)  # type: ignore[arg-type]
    assert found is not None
    assert expected in found.message
    proof = signed.signature or signed.attestation  # type: ignore[attr-defined]
    assert found.key_id == (proof.key_id if proof else None)
    assert not found.vouched


def test_a_revoked_key_signs_nothing_more_and_cannot_come_back() -> None:
    """Revocation is final for that key; the agent's other key still works."""
    clock = Clock()
    agent = _agent(clock, AGENT_KEY, OTHER_KEY)
    agent.revoke_key(clock.ctx(), key=key_id(public_bytes(AGENT_KEY)), reason="leaked", by="ops")
    found = authentication_problem(as_agent(AGENT_KEY)(proposal()), agent, ATTESTERS)
    assert found is not None
    assert "was revoked" in found.message
    assert authentication_problem(as_agent(OTHER_KEY)(proposal()), agent, ATTESTERS) is None
    with pytest.raises(errors.KeyRevoked):
        agent.register_key(clock.ctx(), public_key=public_bytes(AGENT_KEY), by="ops")
    with pytest.raises(errors.UnknownKey):
        agent.revoke_key(clock.ctx(), key="ed25519:" + "0" * 32, reason="typo", by="ops")


def test_registering_a_key_twice_records_it_once() -> None:
    """The same key again is a no-op with the same id."""
    clock = Clock()
    agent = _agent(clock, AGENT_KEY)
    version = agent.version
    kid = agent.register_key(clock.ctx(), public_key=public_bytes(AGENT_KEY), by="again")
    assert (kid, agent.version) == (key_id(public_bytes(AGENT_KEY)), version)


def test_the_api_vouches_for_the_agent_so_a_bad_own_signature_is_told_to_it() -> None:
    """Attested by the API with a failing agent signature: unauthenticated, but vouched."""
    signed = as_service(API_KEY)(as_agent(OTHER_KEY)(proposal()))
    found = authentication_problem(signed, _agent(Clock(), AGENT_KEY), ATTESTERS)
    assert found is not None
    assert found.vouched
    assert authentication_problem(as_service(API_KEY)(proposal()), None, ATTESTERS) is None


def test_the_executor_attests_a_compensation() -> None:
    """Its reach is the system's own compensation keys."""
    undo = proposal(compensation_key(Clock().new_id()))
    assert authentication_problem(as_service(EXECUTOR_KEY)(undo), None, ATTESTERS) is None


@pytest.mark.parametrize(
    "weak",
    [bytes(32), b"\x01" + bytes(31), bytes.fromhex("ec" + "ff" * 30 + "7f"), b"\xff" * 32],
    ids=["zero", "identity", "order 2", "not canonical"],
)
def test_a_key_that_would_verify_forgeries_is_never_registered(weak: bytes) -> None:
    """The identity key verifies (R = identity, S = 0) over every message: refused."""
    clock = Clock()
    agent = _agent(clock)
    with pytest.raises(errors.InvalidKey):
        agent.register_key(clock.ctx(), public_key=weak, by="ops")
    assert agent.keys == {}


def test_decimals_sign_in_positional_notation_and_look_alike_objects_not_at_all() -> None:
    """1E-7 is "0.0000001" whatever text carried it; {"$decimal": ...} as data is refused."""
    signed = signing_input(proposal(parameters={"a": Decimal("1E-7"), "b": Decimal("1E+3")}))
    assert b'"a":{"$decimal":"0.0000001"},"b":{"$decimal":"1000"}' in signed
    with pytest.raises(Unsignable, match="decimal"):
        signing_input(proposal(parameters={"x": {"$decimal": "5"}}))


def test_an_unknown_key_is_refused_before_the_proposal_is_looked_at() -> None:
    """A made-up key id costs no canonicalization: the key is what is refused."""
    forged = as_agent(OTHER_KEY)(proposal()).model_copy(update={"parameters": {"n": 2**60}})
    found = authentication_problem(forged, _agent(Clock(), AGENT_KEY), ATTESTERS)
    assert found is not None
    assert "is not registered" in found.message
