"""The OpenID Connect verifier alone: roles, key rotation, an issuer that cannot be read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from agentledger.approvals import Unauthenticated
from agentledger.oidc import REFETCH_AFTER_S, IssuerUnavailable, OidcConfig, OidcVerifier

ISSUER = "https://issuer.test"
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


class Published:
    """What a fake issuer publishes, and how often it was asked."""

    def __init__(self) -> None:
        """One key to start with."""
        self.keys = [ECKey.generate_key("P-256", parameters={"kid": "k1"})]
        self.fetches = 0
        self.down = False

    def __call__(self, url: str) -> dict[str, Any]:
        """Answer discovery and the key set, or fail like an unreachable issuer."""
        if self.down:
            raise IssuerUnavailable(f"cannot read {url}")
        if url.endswith("/.well-known/openid-configuration"):
            return {"jwks_uri": f"{ISSUER}/jwks"}
        self.fetches += 1
        return dict(KeySet(list(self.keys)).as_dict(private=False))

    def token(self, roles: object) -> str:
        """A token signed with the newest key, for subject ``sub-1``."""
        signer = self.keys[-1]
        claims = {"iss": ISSUER, "aud": "api", "sub": "sub-1", "roles": roles,
                  "exp": int((NOW + timedelta(minutes=5)).timestamp())}  # fmt: skip
        return jwt.encode({"alg": "ES256", "kid": signer.kid}, claims, signer)


@pytest.mark.parametrize(
    ("roles", "expected"),
    [(["a", "b"], ["a", "b"]), ("a b", ["a", "b"]), ([1, "a"], ["a"]), (None, [])],
)
def test_roles_are_read_from_a_list_or_a_space_separated_string(
    roles: object, expected: list[str]
) -> None:
    """Issuers publish roles either way; anything that is not a string is dropped."""
    published = Published()
    verifier = OidcVerifier(OidcConfig(ISSUER, "api"), lambda: NOW, published)
    approver = verifier.approver(published.token(roles))
    assert (approver.name, approver.roles) == ("sub-1", expected)


def test_a_rotated_key_is_fetched_once_the_cached_set_is_old_enough() -> None:
    """A token under a new key id fetches the keys again, at most every REFETCH_AFTER_S."""
    published = Published()
    verifier = OidcVerifier(OidcConfig(ISSUER, "api"), lambda: NOW, published)
    verifier.approver(published.token(["a"]))
    published.keys.append(ECKey.generate_key("P-256", parameters={"kid": "k2"}))
    with pytest.raises(Unauthenticated):  # just fetched: not again yet
        verifier.approver(published.token(["a"]))
    verifier._fetched_at -= REFETCH_AFTER_S + 1  # noqa: SLF001  # as if the set were old
    assert verifier.approver(published.token(["a"])).name == "sub-1"
    assert published.fetches == 2


def test_an_unreachable_issuer_is_not_an_unauthenticated_caller() -> None:
    """No keys can be read: IssuerUnavailable (a 503), not a 401 that blames the token."""
    published = Published()
    published.down = True
    verifier = OidcVerifier(OidcConfig(ISSUER, "api"), lambda: NOW, published)
    with pytest.raises(IssuerUnavailable):
        verifier.approver(published.token(["a"]))
