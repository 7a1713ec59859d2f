"""Register the contracts in the registry, under BACKWARD_TRANSITIVE, and read them back.

Registering is a deployment step (``agentledger up``, ``agentledger schemas register``);
a service only checks, with :meth:`Registrar.require`, that what it uses is there.
"""

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
UNAUTHORIZED = 401
NOT_FOUND = 404
CONFLICT = 409
REGISTER_COMMAND = "agentledger schemas register"


class WritesRefused(Exception):
    """The registry refused a change: no valid credential was given."""

    def __init__(self, url: str) -> None:
        """The registry at ``url`` answered 401."""
        super().__init__(
            f"the registry at {url} refused a change without the operator's credential:"
            " set AGENTLEDGER_REGISTRY_PASSWORD (the local stack generates it at `agentledger up`)"
        )


class ContractsMissing(Exception):
    """Contracts a service uses are not registered (or lack their rule) in the registry."""

    def __init__(self, url: str, problems: dict[str, str]) -> None:
        """``problems``: what is wrong, by subject."""
        self.problems = problems
        listed = "; ".join(f"{subject}: {problem}" for subject, problem in sorted(problems.items()))
        super().__init__(
            f"{len(problems)} contract(s) not ready in the registry at {url}: {listed}."
            f" Register them first: `{REGISTER_COMMAND}` (or `agentledger up`)"
        )


TIMEOUT_S = 10.0


@functools.cache
def shared_http() -> httpx.Client:
    """The process's client for the registry calls the Confluent client lacks.

    One per process: every new ``httpx.Client`` builds an SSL context, about 30 ms here,
    which ``httpx.get`` paid on each of the subject checks a registration makes (about a
    second to register the catalog's 30 contracts, in every process that starts).
    """
    return httpx.Client(timeout=TIMEOUT_S)


@functools.cache
def authenticated_http(user: str, password: str) -> httpx.Client:
    """The process's client for registry changes as ``user`` (one per credential)."""
    return httpx.Client(timeout=TIMEOUT_S, auth=(user, password))


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

    @property
    def client(self) -> SchemaRegistryClient:
        """The Confluent-API client it calls the registry through (with its credential)."""
        return self._client

    def register(self, contracts: Iterable[Contract]) -> dict[str, int]:
        """Register each contract under its record-name subject; schema id by subject.

        The registry refuses a version incompatible with the subject's earlier ones
        (SchemaRegistryError, HTTP 409). The rule is set right after the first version,
        since the registry keeps no config for a subject that does not exist yet. Safe to
        run from several processes at once: a 409 that lost a race to a registration of
        the same schema, or of the same rule, counts as done (see :meth:`_register_one`).
        """
        ids = {}
        for contract in contracts:
            ids[contract.fullname] = self._register_one(contract)
            if self.compatibility(contract.fullname) != COMPATIBILITY:
                self._set_rule(contract.fullname)
        return ids

    def require(self, contracts: Iterable[Contract]) -> dict[str, int]:
        """Schema id by subject of each contract, if registered with its rule; else raises.

        Raises :class:`ContractsMissing` naming every subject that lacks this build's
        schema or the ``BACKWARD_TRANSITIVE`` rule, and the command that registers them.
        """
        ids, problems = {}, {}
        for contract in contracts:
            found = self._registered_id(contract)
            if found is None:
                problems[contract.fullname] = "this schema is not registered"
                continue
            ids[contract.fullname] = found
            rule = self.compatibility(contract.fullname)
            if rule != COMPATIBILITY:
                problems[contract.fullname] = f"compatibility is {rule}, not {COMPATIBILITY}"
        if problems:
            raise ContractsMissing(self._url, problems)
        return ids

    def _register_one(self, contract: Contract) -> int:
        """Register one contract; a 409 is success if the same schema is registered now."""
        try:
            return self._client.register_schema(
                contract.fullname, Schema(contract.schema_str, "AVRO")
            )
        except SchemaRegistryError as exc:
            if exc.http_status_code == UNAUTHORIZED:
                raise WritesRefused(self._url) from exc
            if exc.http_status_code != CONFLICT:
                raise
            found = self._registered_id(contract)  # a concurrent registration of it won
            if found is None:
                raise  # an incompatible schema: the refusal stands
            return found

    def _set_rule(self, subject: str) -> None:
        """Set the subject's rule; a 409 is success if the rule is now what we asked for."""
        try:
            self.set_compatibility(subject, COMPATIBILITY)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == UNAUTHORIZED:
                raise WritesRefused(self._url) from exc
            if exc.response.status_code != CONFLICT or self.compatibility(subject) != COMPATIBILITY:
                raise

    def _registered_id(self, contract: Contract) -> int | None:
        """The id under which ``contract``'s exact schema is registered, if it is."""
        try:
            found = self._client.lookup_schema(
                contract.fullname, Schema(contract.schema_str, "AVRO")
            )
        except SchemaRegistryError as exc:
            if exc.http_status_code == NOT_FOUND:
                return None
            raise
        return found.schema_id

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
