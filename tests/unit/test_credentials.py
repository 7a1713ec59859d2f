"""Which Kafka credential a process uses, and the errors that name the missing setting."""

from __future__ import annotations

import base64
import re
import stat
from pathlib import Path

import pytest

from agentledger.credentials import (
    AGENT_TOKEN_PREFIX,
    agent_api_token,
    agent_tokens,
    deployment_secrets,
    kafka_access,
    read_credential,
    write_credential,
)
from agentledger.settings import Settings
from agentledger.signing_keys import agent_key, attesters, key_from_secret, pem, service_key
from domain.signing import public_bytes
from infra.kafka_config import KafkaAccess
from infra.stack.errors import StackError

pytestmark = pytest.mark.unit


def test_a_username_without_a_password_is_an_error_naming_the_setting(tmp_path: Path) -> None:
    """AGENTLEDGER_KAFKA_USERNAME alone is refused, naming AGENTLEDGER_KAFKA_PASSWORD."""
    settings = Settings(state_dir=tmp_path, kafka_username="decider")
    with pytest.raises(StackError, match="AGENTLEDGER_KAFKA_PASSWORD"):
        kafka_access(settings, "decider")


def test_a_principal_with_no_credential_anywhere_is_an_error_naming_the_settings(
    tmp_path: Path,
) -> None:
    """No setting and nothing in the deployment secrets: the error says how to get one."""
    with pytest.raises(StackError, match="AGENTLEDGER_KAFKA_USERNAME") as refused:
        kafka_access(Settings(state_dir=tmp_path), "agent.nobody")
    assert "agent register" in str(refused.value)


def test_the_operator_credential_of_the_local_stack_is_generated_once(tmp_path: Path) -> None:
    """Asked twice, the operator gets the same generated password; no default exists."""
    first = kafka_access(Settings(state_dir=tmp_path), "operator")
    again = kafka_access(Settings(state_dir=tmp_path), "operator")
    assert first == again
    assert len(first.password) >= 40


def test_a_credential_file_is_owner_only_and_read_back(tmp_path: Path) -> None:
    """``agent register --credential-file`` writes 0600 JSON that the SDK reads back."""
    path = tmp_path / "bot.json"
    key = key_from_secret("made-for-the-test")
    write_credential(
        path, KafkaAccess("127.0.0.1:1", "agent.bot", "pw-generated"), "tok-made", pem(key)
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings = Settings(state_dir=tmp_path, kafka_credential_file=path)
    found = kafka_access(settings, "ignored: the file wins")
    assert (found.username, found.password) == ("agent.bot", "pw-generated")
    assert agent_api_token(settings, "bot") == "tok-made"
    assert public_bytes(agent_key(settings, "bot")) == public_bytes(key)


def test_an_agents_api_token_is_found_in_the_secrets_and_a_missing_one_names_the_setting(
    tmp_path: Path,
) -> None:
    """The SDK finds the token `agent register` made; without one, the error says what to set."""
    settings = Settings(state_dir=tmp_path)
    with pytest.raises(StackError, match="AGENTLEDGER_AGENT_TOKEN"):
        agent_api_token(settings, "bot")
    made = deployment_secrets(settings).get(AGENT_TOKEN_PREFIX + "bot")
    assert agent_api_token(settings, "bot") == made
    assert agent_tokens(settings) == {made: "bot"}


def test_a_broken_credential_file_is_an_error_naming_the_setting(tmp_path: Path) -> None:
    """A file without the two fields is refused with the setting's name."""
    path = tmp_path / "bad.json"
    path.write_text('{"username": "x"}')
    with pytest.raises(StackError, match="AGENTLEDGER_KAFKA_CREDENTIAL_FILE"):
        read_credential(path, Settings(state_dir=tmp_path))


def test_the_deciders_trust_in_service_keys_comes_from_the_setting_or_the_local_stack(
    tmp_path: Path,
) -> None:
    """Configured keys win; a shared key, an unknown service or bad base64 is a clear error."""
    api = base64.b64encode(public_bytes(key_from_secret("api-elsewhere"))).decode()
    mine = Settings(state_dir=tmp_path, service_public_keys={"api": api})
    found = {a.name: a for a in attesters(mine).values()}
    assert base64.b64encode(found["api"].public_key).decode() == api
    assert found["executor"].compensations_only
    assert not found["api"].compensations_only
    for bad, says in (
        ({"api": api, "executor": api}, "the api and the executor have the same key"),
        ({"relay": api, "observer": api}, "the observer and the relay have the same key"),
        ({"decider": api}, "names ['decider']"),
        ({"api": "not base64!"}, "is not base64"),
        ({"api": base64.b64encode(b"short").decode()}, "is not 32 bytes"),
    ):
        with pytest.raises(StackError, match=re.escape(says)):
            attesters(Settings(state_dir=tmp_path, service_public_keys=bad))


def test_a_key_file_that_is_not_an_ed25519_pem_names_the_setting(tmp_path: Path) -> None:
    """The agent's or the service's key file: unreadable or of another kind, said so."""
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    settings = Settings(state_dir=tmp_path, agent_key_file=junk, signing_key_file=junk)
    with pytest.raises(StackError, match=r"AGENTLEDGER_AGENT_KEY_FILE .* is not a readable PEM"):
        agent_key(settings, "bot")
    with pytest.raises(StackError, match="AGENTLEDGER_SIGNING_KEY_FILE"):
        service_key(settings, "api")
