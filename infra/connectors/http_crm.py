"""The ``crm`` system: a SaaS CRM reached over its JSON HTTP API (``/v1/{type}/{id}``).

Writes carry ``Idempotency-Key`` and, when a version is expected, ``If-Match``. Status codes
map onto the connector errors: 412 is a :class:`VersionConflict`; 408, 429, 5xx, timeouts
and transport failures are :class:`ConnectorUnavailable` (retry with the same key); any
other 4xx is :class:`MutationRefused`. Decimals travel as strings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from domain.values import ResourceRef
from infra.connectors.base import (
    Applied,
    Change,
    ConnectorUnavailable,
    Mutation,
    MutationRefused,
    Operation,
    Snapshot,
    VersionConflict,
)
from infra.connectors.values import dumps, fields_of
from infra.telemetry.tracing import as_headers

SYSTEM = "crm"
TRANSIENT = frozenset({408, 425, 429})


def crm_client(base_url: str, timeout_s: float) -> httpx.Client:
    """An HTTP client for the CRM at ``base_url``: bounded connect, read and pool waits."""
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0))
    return httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)


def path(resource: ResourceRef) -> str:
    """The API path of a resource, each part percent-encoded."""
    return f"/v1/{quote(resource.type, safe='')}/{quote(resource.id, safe='')}"


class HttpCrm:
    """The :class:`~infra.connectors.base.Connector` of the ``crm`` system."""

    def __init__(self, base_url: str, *, timeout_s: float = 5.0) -> None:
        """Talk to the CRM at ``base_url`` (e.g. ``http://127.0.0.1:18090``)."""
        self._http = crm_client(base_url, timeout_s)

    @property
    def system(self) -> str:
        """``crm``."""
        return SYSTEM

    def apply(
        self, mutation: Mutation, idempotency_key: str, expected_version: str | None
    ) -> Applied:
        """PUT (merge fields) or DELETE, once per key; the CRM replays a repeated key."""
        ref = _own(mutation.resource)
        headers = {"Idempotency-Key": idempotency_key, **_trace_header()}
        if expected_version is not None:
            headers["If-Match"] = f'"{expected_version}"'
        if mutation.operation is Operation.DELETE:
            request = self._http.build_request("DELETE", path(ref), headers=headers)
        else:
            content = dumps({"fields": mutation.fields}).encode()
            headers["Content-Type"] = "application/json"
            request = self._http.build_request("PUT", path(ref), headers=headers, content=content)
        response = self._send(request)
        if response.status_code == httpx.codes.PRECONDITION_FAILED:
            raise VersionConflict(ref, expected_version, _json(response).get("current_version"))
        _raise_for(response)
        body = _json(response)
        fields = {} if mutation.operation is Operation.DELETE else fields_of(body.get("fields"))
        replayed = response.headers.get("Idempotent-Replayed", "").lower() == "true"
        return Applied(str(body["version"]), fields, replayed=replayed)

    def current(self, resource: ResourceRef) -> Snapshot:
        """GET the record; 404 means it does not exist."""
        ref = _own(resource)
        response = self._send(self._http.build_request("GET", path(ref)))
        if response.status_code == httpx.codes.NOT_FOUND:
            return Snapshot(ref, None, {})
        _raise_for(response)
        body = _json(response)
        return Snapshot(ref, str(body["version"]), fields_of(body.get("fields")))

    def changes(self, since: int, limit: int = 500) -> list[Change]:
        """One page of ``/v1/changes`` after ``since``."""
        params = {"since": since, "limit": limit}
        response = self._send(self._http.build_request("GET", "/v1/changes", params=params))
        _raise_for(response)
        return [
            Change(
                sequence=int(entry["seq"]),
                resource=ResourceRef(system=SYSTEM, type=entry["type"], id=entry["id"]),
                version=str(entry["version"]), fields=fields_of(entry["fields"]),
                deleted=bool(entry["deleted"]),
                changed_at=datetime.fromisoformat(entry["changed_at"]),
                trace=_text(entry.get("traceparent")),
            )
            for entry in _json(response)["changes"]
        ]  # fmt: skip

    def feed_head(self) -> int:
        """``/v1/changes/head``: the highest sequence the CRM's feed has handed out."""
        response = self._send(self._http.build_request("GET", "/v1/changes/head"))
        _raise_for(response)
        head = _json(response).get("head")
        if type(head) is not int or head < 0:
            raise ConnectorUnavailable(
                f"{SYSTEM} answered a feed head that is not a count: {head!r}"
            )
        return head

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._http.send(request)
        except httpx.TransportError as exc:
            raise ConnectorUnavailable(f"{SYSTEM}: {exc.__class__.__name__}: {exc}") from exc


def _raise_for(response: httpx.Response) -> None:
    """Map an error status onto the connector errors; success passes."""
    status = response.status_code
    if status < httpx.codes.BAD_REQUEST:
        return
    detail = f"{SYSTEM} answered {status}: {response.text[:500]}"
    if status >= httpx.codes.INTERNAL_SERVER_ERROR or status in TRANSIENT:
        raise ConnectorUnavailable(detail)
    raise MutationRefused(detail)


def _json(response: httpx.Response) -> dict[str, Any]:
    """The body as a JSON object; anything else is a broken answer worth retrying."""
    try:
        body = response.json()
    except ValueError as exc:
        raise ConnectorUnavailable(
            f"{SYSTEM} answered {response.status_code} without JSON"
        ) from exc
    if not isinstance(body, dict):
        raise ConnectorUnavailable(f"{SYSTEM} answered {response.status_code} with a non-object")
    return body


def _own(ref: ResourceRef) -> ResourceRef:
    """``ref`` if it belongs to this system; another system's resource is refused (final)."""
    if ref.system != SYSTEM:
        raise MutationRefused(f"the {SYSTEM} connector cannot serve {ref.key}")
    return ref


def _trace_header() -> dict[str, str]:
    """The caller's trace context, which the CRM keeps with the change it makes."""
    return {name: value.decode() if isinstance(value, bytes) else str(value)
            for name, value in as_headers() if value is not None}  # fmt: skip


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
