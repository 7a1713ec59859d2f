"""Approvers signed in through an OpenID Connect issuer: the JWT's subject is the approver."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import ECKey

from agentledger.api.app import create_app
from agentledger.approvals import ApprovalDesk
from agentledger.bootstrap import system_context, topic_serdes
from agentledger.local_issuer import LocalIssuer
from agentledger.oidc import OidcConfig, OidcVerifier
from agentledger.settings import Settings
from agentledger.signing_keys import service_key
from domain.signing import as_service
from infra.connectors.registry import Connectors
from infra.ledger.ledger import Ledger
from infra.proposal_sink import ProposalSink
from tests.execution_helpers import agent, decide, resource
from tests.kafka_helpers import operator

pytestmark = pytest.mark.integration
HOUR = timedelta(hours=1)


@pytest.fixture
def issuer() -> Iterator[LocalIssuer]:
    """A local issuer with a key made for this test."""
    local = LocalIssuer("agentledger").start()
    yield local
    local.stop()


@pytest.fixture
def api(
    isolated: Settings, own_ledger: Ledger, systems: Connectors, issuer: LocalIssuer
) -> Iterator[TestClient]:
    """The API with sign-in through ``issuer`` and no static approver at all."""
    verifier = OidcVerifier(OidcConfig(issuer.url, "agentledger"), lambda: datetime.now(UTC))
    desk = ApprovalDesk(
        own_ledger, {}, lambda ref: systems.for_resource(ref).current(ref).version,
        system_context, verifier.approver,
    )  # fmt: skip
    sink = ProposalSink(
        operator(isolated), topic_serdes(isolated, "proposals.v1")["proposals.v1"], 6,
        seal=as_service(service_key(isolated, "api")),
    )  # fmt: skip
    app = create_app(
        desk, own_ledger, sink, dict, lambda _aid: [],
        max_body_bytes=isolated.max_record_bytes, failed_logins="1000/minute",
    )  # fmt: skip
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_subject_is_the_approver_and_an_owner_cannot_approve_its_agents_action(
    api: TestClient, own_ledger: Ledger, issuer: LocalIssuer
) -> None:
    """The agent's owner, signed in with the right role, gets 403; another subject approves.

    The approval records the subject id, whatever display name the token carries.
    """
    bot = agent(own_ledger)  # owned by "owner-of-<bot>"
    aid = decide(own_ledger, bot, resource("crm", "contact"), roles=["security"])
    now = datetime.now(UTC)
    owner = issuer.mint(f"owner-of-{bot}", ["security"], now, HOUR, name="Alice")
    refused = api.post(f"/approvals/{aid}/approve", json={}, headers=_bearer(owner))
    assert (refused.status_code, refused.json()["type"]) == (
        403,
        "urn:agentledger:problem:self_approval",
    )
    other = issuer.mint("subject-7f3a", ["security"], now, HOUR, name=f"owner-of-{bot}")
    approved = api.post(f"/approvals/{aid}/approve", json={}, headers=_bearer(other))
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"] == ["subject-7f3a"]


def _forged(issuer: LocalIssuer) -> dict[str, str]:
    now = datetime.now(UTC)
    other_key = ECKey.generate_key("P-256", parameters={"kid": str(issuer.key.kid)})
    public_pem = issuer.key.as_pem(private=False)
    claims = {"iss": issuer.url, "aud": "agentledger", "sub": "mallory", "roles": ["security"],
              "exp": int((now + HOUR).timestamp())}  # fmt: skip
    return {
        "expired": issuer.mint("bob", ["security"], now - 2 * HOUR, HOUR),
        "wrong issuer": issuer.mint("bob", ["security"], now, HOUR, iss="https://evil.example"),
        "wrong audience": issuer.mint("bob", ["security"], now, HOUR, aud="another-api"),
        "no subject": issuer.mint("", ["security"], now, HOUR, sub=None),
        "bad signature": jwt.encode({"alg": "ES256", "kid": issuer.key.kid}, claims, other_key),
        "HMAC with the public key": _hmac_signed(claims, str(issuer.key.kid), public_pem),
        "tampered": _tampered(issuer.mint("bob", ["reader"], now, HOUR)),
    }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hmac_signed(claims: dict[str, object], kid: str, secret: bytes) -> str:
    """The old algorithm-confusion forgery: HS256 keyed with the issuer's public key."""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = _b64(json.dumps(claims).encode())
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(mac)}"


def _tampered(token: str) -> str:
    """The token with its claims swapped for more roles, its signature kept."""
    header, claims, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(claims + "=="))
    body["roles"] = ["security"]
    return f"{header}.{_b64(json.dumps(body).encode())}.{signature}"


def test_a_token_the_issuer_did_not_sign_for_us_now_is_a_401(
    api: TestClient, own_ledger: Ledger, issuer: LocalIssuer
) -> None:
    """Expired, another issuer or audience, no subject, a bad or symmetric signature: 401."""
    aid = decide(own_ledger, agent(own_ledger), resource("crm", "contact"), roles=["security"])
    for what, token in _forged(issuer).items():
        answer = api.post(f"/approvals/{aid}/approve", json={}, headers=_bearer(token))
        assert answer.status_code == 401, (what, answer.text)
        assert answer.json()["type"] == "urn:agentledger:problem:unauthenticated", what
    reader = issuer.mint("reader-1", ["reader"], datetime.now(UTC), HOUR)
    assert api.get("/approvals", headers=_bearer(reader)).status_code == 200
    refused = api.post(f"/approvals/{aid}/approve", json={}, headers=_bearer(reader))
    assert refused.status_code == 403  # signed in, but without the role the request needs
