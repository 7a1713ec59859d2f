"""The ledger's seal key: held by the services that read or write the event store, never by it.

On the local stack it is derived from the deployment secret ``seal.ledger``; elsewhere each
process that touches the store is given the same key in a file (``ledger_seal_key_file``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from agentledger.credentials import deployment_secrets
from agentledger.settings import Settings
from infra.ledger.seal import KEY_BYTES, LedgerSeal
from infra.stack.errors import StackError

SEAL_SECRET = "seal.ledger"  # noqa: S105  # the secret's name in the secrets file, not its value
SETTING = "AGENTLEDGER_LEDGER_SEAL_KEY_FILE"


def ledger_seal(settings: Settings) -> LedgerSeal:
    """The seal this process stores and checks the ledger's events with."""
    path = settings.ledger_seal_key_file
    if path is None and settings.database_external:
        raise StackError("keys", (
            f"{SETTING} is required with an external database: every service that reads or"
            " writes the ledger must be given the same key"
        ))  # fmt: skip
    if path is None:
        return LedgerSeal(local_key(settings))
    try:
        key = base64.b64decode(path.read_text().strip(), validate=True)
    except (OSError, UnicodeDecodeError, binascii.Error) as exc:
        raise StackError("keys", f"{SETTING} {path} is not a readable base64 key: {exc}") from exc
    if len(key) < KEY_BYTES:
        raise StackError("keys", f"{SETTING} {path} holds {len(key)} bytes: at least {KEY_BYTES}")
    return LedgerSeal(key)


def local_key(settings: Settings) -> bytes:
    """The local stack's seal key (made on first use and kept in the deployment secrets)."""
    secret = deployment_secrets(settings).get(SEAL_SECRET)
    return hashlib.sha256(b"agentledger ledger seal\0" + secret.encode()).digest()
