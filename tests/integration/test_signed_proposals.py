"""Signed proposals on the real stack: an agent cannot speak as another, keys rotate and revoke."""

from __future__ import annotations

import base64
import secrets

import httpx
import pytest
from confluent_kafka import Producer

from agentledger.bootstrap import enroll_agent, topic_serdes
from agentledger.credentials import kafka_access
from agentledger.settings import ApproverEntry, Settings
from agentledger.signing_keys import new_agent_key
from domain.events import ActionProposed, ProposalRejected
from domain.ids import action_id
from domain.signing import key_id, public_bytes, signed
from infra.kafka_acls import AGENT, principal_name
from infra.kafka_config import client_config
from infra.ledger.ledger import Ledger
from infra.partitioner import partition_for
from tests.decider_helpers import proposal, read_topic, register, running
from tests.kafka_helpers import enrolled_client

pytestmark = pytest.mark.integration


def _produce_as(settings: Settings, agent_id: str, records: list[ActionProposed]) -> None:
    """Produce ``records`` with agent ``agent_id``'s own Kafka credential."""
    enroll_agent(settings, agent_id)
    serde = topic_serdes(settings, "proposals.v1")["proposals.v1"]
    producer = Producer(client_config(kafka_access(settings, principal_name(AGENT, agent_id))))
    for record in records:
        key = record.resource.key.encode()
        producer.produce(
            serde.topic, serde.serialize(record), key,
            partition=partition_for(key, settings.partitions),
        )  # fmt: skip
    assert producer.flush(30) == 0


def _rejections(settings: Settings, count: int) -> list[ProposalRejected]:
    records = read_topic(settings, "actions.v1", until=10**9, timeout_s=15)
    found = [r for r in records if isinstance(r, ProposalRejected)]
    assert len(found) >= count, found
    return found


def test_an_agent_proposing_as_another_is_unauthenticated_and_takes_nothing_of_its(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """A, with its own Kafka credential, proposes as B with B's idempotency key.

    Signed with A's key, or not signed at all: `unauthenticated`, recorded against A's key
    id, not against B. B's own proposal with that key is then decided as usual.
    """
    register(own_ledger, "agent-a")
    register(own_ledger, "agent-b")
    with running(isolated, own_ledger):
        _produce_as(isolated, "agent-a", [
            proposal("agent-b", "b-intent", signed_by="agent-a"),
            proposal("agent-b", "b-intent", signed_by=None),
        ])  # fmt: skip
        rejected = _rejections(isolated, 2)
        genuine = enrolled_client("agent-b", isolated)
        ref = genuine.propose(
            resource="crm/contact/42", action_type="contact.update", idempotency_key="b-intent"
        )
        decision = genuine.wait_for_decision(ref, 60)
    a_key = key_id(public_bytes(new_agent_key(isolated, "agent-a")))
    assert {r.reason.code for r in rejected} == {"unauthenticated"}
    assert sorted(str(r.key_id) for r in rejected) == sorted([a_key, "None"])
    assert all(r.agent_id is None and r.action_id is None for r in rejected)
    assert all("agent 'agent-b'" in r.reason.message for r in rejected)
    assert decision.outcome != "rejected", decision
    assert decision.action_id == action_id("agent-b", "b-intent")


def test_an_operator_rotates_and_revokes_keys_through_the_api(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """A rotated-out key signs nothing more; the new one does; a non-operator may not touch keys."""
    operator, approver = secrets.token_urlsafe(), secrets.token_urlsafe()
    mine = isolated.model_copy(update={"approvers": {
        operator: ApproverEntry(name="olga", roles=["operator"]),
        approver: ApproverEntry(name="alice", roles=["finance"]),
    }})  # fmt: skip
    register(own_ledger, "rotating")
    old_key = new_agent_key(mine, "rotating")
    fresh = new_agent_key(mine, "rotating-fresh")  # another secret: a second key
    raw = base64.b64encode(public_bytes(fresh)).decode()
    with running(mine, own_ledger), httpx.Client(base_url=mine.api, timeout=10) as http:
        keys = "/agents/rotating/keys"
        refused = http.post(keys, json={"public_key": raw}, headers=_bearer(approver))
        added = http.post(keys, json={"public_key": raw}, headers=_bearer(operator))
        identity = base64.b64encode(b"\x01" + bytes(31)).decode()  # verifies any forgery
        weak = http.post(keys, json={"public_key": identity}, headers=_bearer(operator))
        old_id = key_id(public_bytes(old_key))
        revoked = http.post(
            f"{keys}/{old_id}/revoke", json={"reason": "rotated"}, headers=_bearer(operator)
        )
        listed = http.get(keys, headers=_bearer(approver)).json()
        stale = proposal("rotating", "with-old-key")
        new = proposal("rotating", "with-new-key", signed_by=None)
        new = new.model_copy(update={"signature": signed(new, fresh)})
        _produce_as(mine, "rotating", [stale, new])
        rejected = _rejections(mine, 1)
        client = enrolled_client("rotating", mine)
        decision = client.wait_for_decision(action_id("rotating", "with-new-key"), 60)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert (added.status_code, revoked.status_code) == (201, 200)
    assert weak.status_code == 422
    assert weak.json()["type"] == "urn:agentledger:problem:invalid_key"
    assert {(k["key_id"], k["state"]) for k in listed} == {
        (added.json()["key_id"], "active"),
        (old_id, "revoked"),
    }
    assert [(r.key_id, "was revoked" in r.reason.message) for r in rejected] == [(old_id, True)]
    assert decision.outcome != "rejected"


def test_a_bad_signature_sent_through_the_api_is_told_to_the_agent(
    isolated: Settings, own_ledger: Ledger
) -> None:
    """The API vouches for the agent it authenticated: its failed signature is its answer."""
    register(own_ledger, "api-signer")
    other = new_agent_key(isolated, "not-the-api-signer")
    with running(isolated, own_ledger):
        client = enrolled_client("api-signer", isolated)
        token = client._api.headers["Authorization"]  # noqa: SLF001  # the agent's own token
        body: dict[str, object] = {"resource": "crm/contact/42",
                                   "action_type": "contact.update", "idempotency_key": "bad-sig"}  # fmt: skip
        forged = signed(proposal("api-signer", "bad-sig", signed_by=None), other)
        body["signature"] = {
            "key_id": forged.key_id,
            "value": base64.b64encode(forged.value).decode(),
        }
        sent = httpx.post(f"{isolated.api}/proposals", json=body,
                          headers={"Authorization": token}, timeout=10)  # fmt: skip
        decision = client.wait_for_decision(action_id("api-signer", "bad-sig"), 60)
    assert sent.status_code == 202
    assert decision.outcome == "rejected"
    assert decision.reasons[0].code == "unauthenticated"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
