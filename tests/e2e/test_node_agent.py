"""An agent in Node.js (examples/node-agent) signs with Node's own crypto; the decider verifies it."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agentledger.settings import Settings
from agentledger.signing_keys import pem
from domain.events import ActionProposed
from domain.signing import signing_input
from infra.ledger.ledger import Ledger
from infra.stack.secrets import write_private
from tests.conftest import run_cli
from tests.decider_helpers import running

pytestmark = pytest.mark.e2e
AGENT = Path(__file__).resolve().parents[2] / "examples" / "node-agent" / "agent.mjs"
TRICKY = {
    "tier": "gold", "score": 1.5, "big": 1e21, "tenth": 0.1, "whole": 2.0, "neg": -0.0,
    "text": 'é \u2028 ☃ \U0001d11e "q" \\ \t', "list": [1, None, True, {"z": 1, "a": [0.5]}],
    "\U0001d11e": "astral key", "\uff5a": "after it in code points, before it in UTF-16",
}  # fmt: skip


def _node(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_node_computes_the_same_signing_input_as_the_decider() -> None:
    """JCS in ten lines of JavaScript gives the bytes Python's rfc8785 gives, tricky values too."""
    body = {
        "resource": "crm/contact/7", "action_type": "contact.update", "idempotency_key": "k",
        "parameters": TRICKY, "confidence": 0.9, "estimated_cost": "12.5000",
        "rationale": "why \U0001f600",
    }  # fmt: skip
    script = (
        f"import({json.dumps(AGENT.as_uri())}).then((m) =>"
        f" process.stdout.write(m.signingInput('node-bot', {json.dumps(body)})))"
    )
    done = _node("--input-type=module", "-e", script)
    assert done.returncode == 0, done.stderr
    proposal = ActionProposed.model_validate({  # as the API builds it from the same JSON
        "metadata": {"event_id": uuid.uuid4(), "correlation_id": uuid.uuid4(),
                     "occurred_at": "2026-01-01T00:00:00Z"},
        **json.loads(json.dumps(body)), "agent_id": "node-bot", "preconditions": {},
        "resource": {"system": "crm", "type": "contact", "id": "7"},
    })  # fmt: skip
    assert done.stdout.encode() == signing_input(proposal)


def test_a_node_agent_proposes_signed_and_a_key_it_never_registered_is_refused(
    isolated: Settings, own_ledger: Ledger, tmp_path: Path
) -> None:
    """Registered through the CLI with a key pair of its own, the Node agent is decided.

    Signing with a key the agent never registered, it is told `unauthenticated`.
    """
    env = {"AGENTLEDGER_LEDGER_NAME": isolated.ledger_name,
           "AGENTLEDGER_TOPIC_PREFIX": isolated.topic_prefix}  # fmt: skip
    credential, key = tmp_path / "node-bot.json", tmp_path / "node-bot.pem"
    registered = run_cli(
        "agent", "register", "node-bot", "--owner", "node-owner", "--scope", "crm:*",
        "--credential-file", str(credential), env=env,
    )  # fmt: skip
    assert registered.returncode == 0, registered.stderr
    added = run_cli("agent", "key", "add", "node-bot", "--out", str(key), env=env)
    assert added.returncode == 0, added.stderr
    stranger = tmp_path / "stranger.pem"
    write_private(stranger, pem(Ed25519PrivateKey.generate()))
    run = uuid.uuid4().hex[:8]
    with running(isolated, own_ledger):
        agent_env = {
            "PATH": "/usr/bin:/bin", "AGENTLEDGER_API_URL": isolated.api, "AGENT_ID": "node-bot",
            "AGENTLEDGER_AGENT_TOKEN": json.loads(credential.read_text())["api_token"],
        }  # fmt: skip
        good = _node(str(AGENT), f"crm/contact/node-{run}", "contact.update", f"{run}-1",
                     json.dumps(TRICKY), env={**agent_env, "AGENTLEDGER_AGENT_KEY_FILE": str(key)})  # fmt: skip
        bad = _node(str(AGENT), f"crm/contact/node-{run}", "contact.update", f"{run}-2", "{}",
                    env={**agent_env, "AGENTLEDGER_AGENT_KEY_FILE": str(stranger)})  # fmt: skip
    assert good.returncode == 0, good.stdout + good.stderr
    decided = json.loads(good.stdout.splitlines()[-1])
    assert decided["outcome"] in {"allow", "require_approval"}, decided
    assert bad.returncode == 0, bad.stdout + bad.stderr
    refused = json.loads(bad.stdout.splitlines()[-1])
    assert refused["outcome"] == "rejected"
    assert refused["reasons"][0]["code"] == "unauthenticated"
    assert "not registered" in refused["reasons"][0]["message"]
