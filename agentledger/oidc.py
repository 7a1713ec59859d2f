"""Approvers signed in with an OpenID Connect issuer: a JWT it signed names them.

The API checks the signature against the issuer's published keys (discovered from
``<issuer>/.well-known/openid-configuration``, cached, fetched again when a token names
a key not seen yet), then the issuer, the audience, the expiry and the subject. The
approver is the subject id: stable, unlike a display name, so "no self-approval"
compares ids. Roles come from one configured claim.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from agentledger.approvals import Approver, Unauthenticated

ALGORITHMS = ("RS256", "ES256")
"""Asymmetric only: a token signed with a shared secret (or none) is never accepted."""
REFETCH_AFTER_S = 30.0
"""An unknown key id fetches the keys again, at most this often (issuers rotate keys)."""


class IssuerUnavailable(Exception):
    """The issuer's keys could not be fetched: no token can be checked now."""


@dataclass(frozen=True)
class OidcConfig:
    """Which issuer's tokens, for which audience, roles from which claim."""

    issuer: str
    audience: str
    roles_claim: str = "roles"


def fetch_json(url: str) -> dict[str, Any]:
    """GET ``url`` as JSON (a short timeout: a request waits on it)."""
    try:
        answer = httpx.get(url, timeout=5.0)
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise IssuerUnavailable(f"cannot read {url}: {exc}") from exc
    return found


class OidcVerifier:
    """Turns a JWT from the configured issuer into the approver it names."""

    def __init__(
        self, config: OidcConfig, clock: Callable[[], datetime],
        fetch: Callable[[str], dict[str, Any]] = fetch_json,
    ) -> None:  # fmt: skip
        """Check tokens of ``config``'s issuer at ``clock``'s time."""
        self._config, self._clock, self._fetch = config, clock, fetch
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()
        self._claims = jwt.JWTClaimsRegistry(
            now=lambda: int(clock().timestamp()),
            iss={"essential": True, "value": config.issuer},
            aud={"essential": True, "value": config.audience},
            exp={"essential": True}, sub={"essential": True},
        )  # fmt: skip

    def approver(self, token: str) -> Approver:
        """The approver ``token`` names, or Unauthenticated saying what is wrong with it."""
        try:
            claims = self._decode(token)
            self._claims.validate(claims)
        except JoseError as exc:
            raise Unauthenticated(f"the token is not valid: {exc}") from exc
        return Approver(str(claims["sub"]), _roles(claims.get(self._config.roles_claim)))

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            return jwt.decode(token, self._key_set(refresh=False), algorithms=ALGORITHMS).claims
        except InvalidKeyIdError:
            return jwt.decode(token, self._key_set(refresh=True), algorithms=ALGORITHMS).claims

    def _key_set(self, *, refresh: bool) -> KeySet:
        with self._lock:
            stale = time.monotonic() - self._fetched_at > REFETCH_AFTER_S
            if self._keys is None or (refresh and stale):
                self._keys = self._published_keys()
                self._fetched_at = time.monotonic()
            return self._keys

    def _published_keys(self) -> KeySet:
        where = f"{self._config.issuer}/.well-known/openid-configuration"
        jwks_uri = self._fetch(where).get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise IssuerUnavailable(f"{where} names no jwks_uri")
        try:
            return KeySet.import_key_set(self._fetch(jwks_uri))  # type: ignore[arg-type]  # JWKS
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise IssuerUnavailable(f"{jwks_uri} holds no usable key set: {exc}") from exc


def _roles(claim: object) -> list[str]:
    """Roles as a list of strings, or a space-separated string (both occur in issuers)."""
    if isinstance(claim, str):
        return claim.split()
    if isinstance(claim, list):
        return [role for role in claim if isinstance(role, str)]
    return []
