"""Ed25519 keys of this deployment: each service's own, and each agent's on this host.

On the local stack a key is derived from a secret the deployment generates
(``sign.service.<name>`` or ``sign.agent.<id>`` in the deployment secrets), so the
secrets file keeps one format. Elsewhere each process is given its own key as a PEM file
(``signing_key_file``, ``agent_key_file``) and the decider the services' public keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from agentledger.credentials import credential_entry, deployment_secrets
from agentledger.settings import Settings
from consumers.decider.authentication import Attester
from domain.signing import key_id, public_bytes
from infra.ledger.commands import Commands
from infra.provenance import Owner, RecordSigner
from infra.stack.errors import StackError
from infra.topics import TOPICS, TopicSpec

SERVICE_KEY_PREFIX = "sign.service."
AGENT_KEY_PREFIX = "sign.agent."
ATTESTERS = {"api": False, "executor": True}
"""The services whose attestation the decider accepts, and whether for compensations only."""
SIGNING_SERVICES = (*ATTESTERS, *sorted({s.signed_by for s in TOPICS if s.signed_by}))
"""Every service with a key: the attesters, and the owners of signed topics."""


def key_from_secret(secret: str) -> Ed25519PrivateKey:
    """The Ed25519 key a deployment secret stands for (its sha256 is the key's seed)."""
    seed = hashlib.sha256(b"agentledger ed25519 seed\0" + secret.encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def pem(key: Ed25519PrivateKey) -> str:
    """``key`` as an unencrypted PKCS#8 PEM (what Node's crypto and OpenSSL read)."""
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


def read_key(path: Path, setting: str) -> Ed25519PrivateKey:
    """The Ed25519 private key in PEM file ``path``, or a :class:`StackError` naming ``setting``."""
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise StackError(
            "keys", f"{setting} {path} is not a readable PEM private key: {exc}"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise StackError(
            "keys", f"{setting} {path} holds a {type(key).__name__}, not an Ed25519 key"
        )
    return key


def service_key(settings: Settings, service: str) -> Ed25519PrivateKey:
    """The private key of ``service`` (one of :data:`SIGNING_SERVICES`) in this process."""
    if settings.signing_key_file is not None:
        return read_key(settings.signing_key_file, "AGENTLEDGER_SIGNING_KEY_FILE")
    return _local_service_key(settings, service)


def _local_service_key(settings: Settings, service: str) -> Ed25519PrivateKey:
    return key_from_secret(deployment_secrets(settings).get(SERVICE_KEY_PREFIX + service))


def agent_key(settings: Settings, agent_id: str) -> Ed25519PrivateKey:
    """The key the SDK of ``agent_id`` signs with.

    In order: ``agent_key_file``, the credential file's, the local stack's.
    """
    if settings.agent_key_file is not None:
        return read_key(settings.agent_key_file, "AGENTLEDGER_AGENT_KEY_FILE")
    held = credential_entry(settings, "signing_key")
    if held is not None:
        return load_pem_private_key(held.encode(), password=None)  # type: ignore[return-value]  # written by us
    found = deployment_secrets(settings).find(AGENT_KEY_PREFIX + agent_id)
    if found is None:
        raise StackError("keys", (
            f"no signing key for agent {agent_id!r}: set AGENTLEDGER_AGENT_KEY_FILE, or run"
            f" `agentledger agent register {agent_id} ...` on the local stack"
        ))  # fmt: skip
    return key_from_secret(found)


def new_agent_key(settings: Settings, agent_id: str) -> Ed25519PrivateKey:
    """The local stack's key for ``agent_id``, made on first use and kept in the secrets."""
    return key_from_secret(deployment_secrets(settings).get(AGENT_KEY_PREFIX + agent_id))


def service_public_keys(settings: Settings) -> dict[str, bytes]:
    """Every signing service's public key, by service (configured, else the local stack's).

    Two services sharing a key could sign for each other (the observer for the relay, the
    executor as the API), so that is refused, as is a name that signs nothing.
    """
    unknown = set(settings.service_public_keys) - set(SIGNING_SERVICES)
    if unknown:
        problem = (
            f"AGENTLEDGER_SERVICE_PUBLIC_KEYS names {sorted(unknown)}:"
            f" only {list(SIGNING_SERVICES)}"
        )
        raise StackError("keys", problem)
    found: dict[str, bytes] = {}
    for name in SIGNING_SERVICES:
        public = _configured(settings, name) or public_bytes(_local_service_key(settings, name))
        shared = next((other for other, held in found.items() if held == public), None)
        if shared is not None:
            raise StackError("keys", f"the {shared} and the {name} have the same key")
        found[name] = public
    return found


def attesters(settings: Settings) -> dict[str, Attester]:
    """The services whose attestations the decider accepts, by key id."""
    keys = service_public_keys(settings)
    return {
        key_id(keys[name]): Attester(name, keys[name], compensations_only=compensations_only)
        for name, compensations_only in ATTESTERS.items()
    }


def topic_owner(settings: Settings, spec: TopicSpec) -> Owner | None:
    """Who must have signed each record of ``spec``'s topic (``None``: no one in particular)."""
    if spec.signed_by is None:
        return None
    public = service_public_keys(settings)[spec.signed_by]
    return Owner(settings.topic(spec.name), spec.signed_by, public, chained=spec.chained)


def record_signer(settings: Settings, service: str) -> RecordSigner:
    """What ``service`` (relay, observer, reconciler) signs the records it produces with."""
    return RecordSigner(service_key(settings, service))


def _configured(settings: Settings, name: str) -> bytes | None:
    text = settings.service_public_keys.get(name)
    if text is None:
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise StackError(
            "keys", f"AGENTLEDGER_SERVICE_PUBLIC_KEYS[{name!r}] is not base64"
        ) from exc
    if len(raw) != 32:  # noqa: PLR2004  # an Ed25519 public key's size
        raise StackError("keys", f"AGENTLEDGER_SERVICE_PUBLIC_KEYS[{name!r}] is not 32 bytes")
    return raw


def enroll_key(settings: Settings, tx: Commands, agent_id: str, by: str) -> str:
    """Register the local stack's key of ``agent_id`` (made on first use); its key id."""
    public = public_bytes(new_agent_key(settings, agent_id))
    return tx.register_key(agent_id, public_key=public, by=by)
