"""Register the contracts in the registry, under BACKWARD_TRANSITIVE, and read them back."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from infra.serde.catalog import Contract

COMPATIBILITY = "BACKWARD_TRANSITIVE"
NOT_FOUND = 404
TIMEOUT_S = 10.0


@functools.cache
def shared_http() -> httpx.Client:
    """The process's client for the registry calls the Confluent client lacks.

    One per process: every new ``httpx.Client`` builds an SSL context, about 30 ms here,
    which ``httpx.get`` paid on each of the subject checks a registration makes (about a
    second to register the catalog's 30 contracts, in every process that starts).
    """
    return httpx.Client(timeout=TIMEOUT_S)


@dataclass(frozen=True)
class SubjectInfo:
    """One subject as the registry holds it."""

    subject: str
    versions: list[int]
    latest_id: int
    compatibility: str


class Registrar:
    """Register contracts, set their compatibility rule, list and fetch what is held."""

    def __init__(
        self, client: SchemaRegistryClient, url: str, http: httpx.Client | None = None
    ) -> None:
        """The Confluent API through ``client``; the rest through ``http`` (default: shared)."""
        self._client = client
        self._url = url.rstrip("/")
        self._http = http if http is not None else shared_http()

    def register(self, contracts: Iterable[Contract]) -> dict[str, int]:
        """Register each contract under its record-name subject; schema id by subject.

        The registry refuses a version incompatible with the subject's earlier ones
        (SchemaRegistryError, HTTP 409). The rule is set right after the first version,
        since the registry keeps no config for a subject that does not exist yet.
        """
        ids = {}
        for contract in contracts:
            ids[contract.fullname] = self._client.register_schema(
                contract.fullname, Schema(contract.schema_str, "AVRO")
            )
            if self.compatibility(contract.fullname) != COMPATIBILITY:
                self.set_compatibility(contract.fullname, COMPATIBILITY)
        return ids

    def compatibility(self, subject: str) -> str:
        """The subject's own compatibility rule, or ``NONE`` if it has none."""
        response = self._http.get(f"{self._url}/config/{subject}")
        if response.status_code == NOT_FOUND:
            return "NONE"
        response.raise_for_status()
        body = response.json()
        return str(body.get("compatibilityLevel") or body.get("compatibility") or "NONE")

    def set_compatibility(self, subject: str, level: str) -> None:
        """Set the subject's rule (a plain PUT: Apicurio refuses the client's richer body)."""
        response = self._http.put(f"{self._url}/config/{subject}", json={"compatibility": level})
        response.raise_for_status()

    def versions(self, subject: str) -> list[dict[str, Any]]:
        """Every registered version's parsed schema, oldest first (empty if no subject)."""
        try:
            numbers = self._client.get_versions(subject)
        except SchemaRegistryError as exc:
            if exc.http_status_code == NOT_FOUND:
                return []
            raise
        registered = (self._client.get_version(subject, number) for number in numbers)
        return [json.loads(version.schema.schema_str or "{}") for version in registered]

    def accepts(self, contract: Contract) -> bool:
        """Whether the registry would accept ``contract`` as the subject's next version."""
        try:
            return bool(
                self._client.test_compatibility(
                    contract.fullname, Schema(contract.schema_str, "AVRO")
                )
            )
        except SchemaRegistryError as exc:
            if exc.http_status_code == NOT_FOUND:
                return True
            raise

    def subjects(self) -> list[SubjectInfo]:
        """Every subject with its versions, latest schema id and rule."""
        infos = []
        for subject in sorted(self._client.get_subjects()):
            latest = self._client.get_latest_version(subject)
            infos.append(
                SubjectInfo(
                    subject,
                    self._client.get_versions(subject),
                    latest.schema_id or 0,
                    self.compatibility(subject),
                )
            )
        return infos
