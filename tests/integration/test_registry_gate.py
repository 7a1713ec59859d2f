"""The registry: anyone reads schemas; registering, rules and deletes need the operator's credential."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from agentledger.bootstrap import registrar
from agentledger.credentials import deployment_secrets
from agentledger.settings import Settings
from infra.stack.registry_gate import OPERATOR_ENTRY
from tests.conftest import run_cli

pytestmark = pytest.mark.integration

CONTENT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
RULE_KEYS = ("compatibilityLevel", "compatibility")


def _schema(name: str) -> dict[str, str]:
    fields = [{"name": "id", "type": "string"}]
    return {"schema": json.dumps({"type": "record", "name": name, "fields": fields})}


@pytest.fixture
def subject(settings: Settings, test_id: str) -> Iterator[str]:
    """A subject the operator registered (rule BACKWARD), removed for good afterwards."""
    name = f"{test_id}-value"
    operator = registrar(settings)
    with httpx.Client(auth=("operator", _password(settings)), timeout=10) as http:
        http.post(f"{settings.registry}/subjects/{name}/versions", json=_schema("A"),
                  headers=CONTENT).raise_for_status()  # fmt: skip
        operator.set_compatibility(name, "BACKWARD")
        yield name
        http.delete(f"{settings.registry}/subjects/{name}")
        http.delete(f"{settings.registry}/subjects/{name}?permanent=true")


def _password(settings: Settings) -> str:
    found = deployment_secrets(settings).find(OPERATOR_ENTRY)
    assert found is not None, "`agentledger up` generated no registry credential"
    return found


def _versions(settings: Settings, subject: str) -> list[int]:
    response = httpx.get(f"{settings.registry}/subjects/{subject}/versions", timeout=10)
    return response.json() if response.status_code == httpx.codes.OK else []


def _rule(settings: Settings, subject: str) -> str | None:
    body = httpx.get(f"{settings.registry}/config/{subject}", timeout=10).json()
    return next((body[key] for key in RULE_KEYS if key in body), None)


@pytest.mark.parametrize(
    "auth", [None, ("operator", "not-the-password"), ("relay", "anything")],
    ids=["anonymous", "wrong-password", "another-name"],
)  # fmt: skip
def test_changes_without_the_operators_credential_are_refused_and_change_nothing(
    settings: Settings, subject: str, test_id: str, auth: tuple[str, str] | None
) -> None:
    """Register, set a rule, delete (soft, permanent), set the mode, write through v3: 401, and nothing changed."""
    base, v3 = settings.registry, settings.registry.replace("/apis/ccompat/v7", "/apis/registry/v3")
    fresh = f"{test_id}-other-value"
    with httpx.Client(auth=auth, timeout=10) as http:
        answers = [
            http.post(f"{base}/subjects/{fresh}/versions", json=_schema("B"), headers=CONTENT),
            http.post(f"{base}/subjects/{subject}/versions", json=_schema("C"), headers=CONTENT),
            http.put(f"{base}/config/{subject}", json={"compatibility": "NONE"}),
            http.put(f"{base}/config", json={"compatibility": "NONE"}),
            http.delete(f"{base}/subjects/{subject}"),
            http.delete(f"{base}/subjects/{subject}/versions/1"),
            http.delete(f"{base}/subjects/{subject}?permanent=true"),
            http.put(f"{base}/mode", json={"mode": "IMPORT"}),
            http.post(f"{v3}/groups/default/artifacts", json={"artifactId": fresh}),
            http.delete(f"{v3}/groups/default/artifacts/{subject}"),
        ]
    assert [answer.status_code for answer in answers] == [401] * len(answers)
    assert _versions(settings, fresh) == []
    assert _versions(settings, subject) == [1]
    assert _rule(settings, subject) == "BACKWARD"


@pytest.mark.parametrize(
    "path",
    ["/subjects/{s}/versions/..", "/subjects/{s}/versions/%2e%2e", "/subjects/{s}%2Fversions",
     "/subjects/{s}/./versions", "//subjects/{s}/versions", "/subjects/{s}/versions/."],
)  # fmt: skip
def test_a_path_that_reads_otherwise_once_decoded_is_refused(
    settings: Settings, test_id: str, path: str
) -> None:
    """A POST whose raw path could look like a read to the gate and a registration behind it: 400."""
    subject = f"{test_id}-value"
    url = urlsplit(settings.registry)
    body = json.dumps(_schema("D")).encode()
    raw = f"{url.path}{path.format(s=subject)}"
    request = (
        f"POST {raw} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: {CONTENT['Content-Type']}"
        f"\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), 10) as conn:
        conn.sendall(request)
        status = conn.recv(4096).split(b" ", 2)[1]
    assert status == b"400"
    assert _versions(settings, subject) == []


def test_reading_needs_no_credential(settings: Settings, subject: str) -> None:
    """Listing, fetching, looking a schema up under its subject, testing compatibility: all anonymous."""
    base = settings.registry
    with httpx.Client(timeout=10) as http:
        answers = [
            http.get(f"{base}/subjects"),
            http.get(f"{base}/subjects/{subject}/versions/1"),
            http.post(f"{base}/subjects/{subject}", json=_schema("A"), headers=CONTENT),
            http.post(
                f"{base}/compatibility/subjects/{subject}/versions/latest",
                json=_schema("A"),
                headers=CONTENT,
            ),
        ]
    assert [answer.status_code for answer in answers] == [200] * len(answers)


def test_the_operators_credential_registers(settings: Settings, test_id: str) -> None:
    """With the password `up` generated, the operator registers a schema."""
    fresh = f"{test_id}-value"
    with httpx.Client(auth=("operator", _password(settings)), timeout=10) as http:
        answer = http.post(f"{settings.registry}/subjects/{fresh}/versions", json=_schema("E"),
                           headers=CONTENT)  # fmt: skip
        assert answer.status_code == httpx.codes.OK, answer.text
        http.delete(f"{settings.registry}/subjects/{fresh}")
        http.delete(f"{settings.registry}/subjects/{fresh}?permanent=true")


def test_the_credential_file_is_the_owners_alone(settings: Settings) -> None:
    """The deployment's credentials are in one file that only its owner may read or write."""
    path = deployment_secrets(settings).path
    assert path.stat().st_mode & 0o777 == 0o600


def test_registering_without_a_password_names_the_setting(settings: Settings) -> None:
    """An external registry and no password: `schemas register` refuses, naming the setting."""
    done = run_cli("schemas", "register", env={"AGENTLEDGER_REGISTRY_URL": settings.registry})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "AGENTLEDGER_REGISTRY_PASSWORD" in done.stderr
    assert _password(settings) not in done.stdout + done.stderr
