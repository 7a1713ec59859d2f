"""`agentledger agent key ...` as an operator runs it: every change an audited agent event."""

from __future__ import annotations

import base64
import json
import re
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from agentledger.bootstrap import system_context
from agentledger.settings import Settings
from domain.events import AgentKeyRegistered, AgentKeyRevoked
from domain.ids import agent_aggregate_id
from domain.signing import key_id, public_bytes
from infra.ledger.ledger import Ledger
from tests.conftest import run_cli

pytestmark = pytest.mark.e2e


def _env(settings: Settings) -> dict[str, str]:
    return {"AGENTLEDGER_LEDGER_NAME": settings.ledger_name,
            "AGENTLEDGER_TOPIC_PREFIX": settings.topic_prefix}  # fmt: skip


def test_keys_are_added_rotated_and_revoked_with_who_did_it(
    isolated: Settings, own_ledger: Ledger, tmp_path: Path
) -> None:
    """A made pair, a pair the agent made, a rotation: each recorded with the operator."""
    env = _env(isolated)
    made = run_cli("agent", "register", "keyed", "--owner", "o", "--scope", "crm:*", env=env)
    assert made.returncode == 0, made.stderr
    assert "it signs with ed25519:" in made.stdout
    first = tmp_path / "first.pem"
    added = run_cli("agent", "key", "add", "keyed", "--out", str(first), env=env)
    assert added.returncode == 0, added.stderr
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    own = Ed25519PrivateKey.generate()
    public_file = tmp_path / "own.pub.pem"
    public_file.write_bytes(
        own.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    (first_id,) = re.findall(r"ed25519:[0-9a-f]{32}", added.stdout)
    rotated = run_cli(
        "agent", "key", "rotate", "keyed", "--old", first_id, "--public-key", str(public_file),
        env=env,
    )  # fmt: skip
    assert rotated.returncode == 0, rotated.stderr
    again = run_cli("agent", "key", "add", "keyed", "--public-key", str(public_file), env=env)
    assert again.returncode == 0  # the same key again: nothing new
    revived = run_cli("agent", "key", "rotate", "keyed", "--old", key_id(public_bytes(own)),
                      "--out", str(tmp_path / "x.pem"), env=env)  # fmt: skip
    assert revived.returncode == 0, revived.stderr
    back = run_cli("agent", "key", "revoke", "keyed", first_id, "--reason", "back?", env=env)
    assert back.returncode == 1
    assert "no active key" in back.stderr
    with own_ledger.batch(system_context()) as tx:
        agent = tx.agent("keyed")
    stored = [
        getattr(e, "record", None) for e in own_ledger.events.get(agent_aggregate_id("keyed"))
    ]
    events = [r for r in stored if isinstance(r, AgentKeyRegistered | AgentKeyRevoked)]
    assert [type(e).__name__ for e in events] == [
        "AgentKeyRegistered", "AgentKeyRegistered", "AgentKeyRegistered", "AgentKeyRevoked",
        "AgentKeyRegistered", "AgentKeyRevoked",
    ]  # fmt: skip
    assert all(
        (e.registered_by if isinstance(e, AgentKeyRegistered) else e.revoked_by).startswith("cli:")
        for e in events
    )
    assert first_id in agent.revoked_keys
    assert key_id(public_bytes(own)) in agent.revoked_keys
    assert len(agent.keys) == 2  # the one `register` made, and the last rotation's


def test_no_key_source_is_a_usage_error(isolated: Settings) -> None:
    """Exactly one of --public-key and --out."""
    done = run_cli("agent", "key", "add", "nobody", env=_env(isolated))
    assert done.returncode == 2
    assert "exactly one of --public-key and --out" in done.stderr


def test_the_services_public_keys_are_printed_for_the_readers_setting(isolated: Settings) -> None:
    """JSON with every signing service's raw public key, base64, each its own."""
    done = run_cli("agent", "key", "services", env=_env(isolated))
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert set(printed) == {"api", "executor", "observer", "reconciler", "relay"}
    assert {len(base64.b64decode(value)) for value in printed.values()} == {32}
    assert len(set(printed.values())) == len(printed)
