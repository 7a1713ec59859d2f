"""The CRM's admin side, for tests and the demo: a human's edit, a faulty-vendor switch.

Not part of the connector contract: agentledger itself never calls these.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from domain.values import ResourceRef, Value
from infra.connectors.base import ConnectorUnavailable, Snapshot
from infra.connectors.http_crm import crm_client
from infra.connectors.values import dumps, fields_of


class CrmAdmin:
    """Admin endpoints of the CRM (``/admin/...``)."""

    def __init__(self, base_url: str, *, timeout_s: float = 5.0) -> None:
        """Talk to the CRM at ``base_url``."""
        self._http = crm_client(base_url, timeout_s)

    def edit(self, resource: ResourceRef, fields: dict[str, Value]) -> Snapshot:
        """Merge ``fields`` as a human in the UI would: no key, no version check, in the feed."""
        where = f"/admin/records/{quote(resource.type, safe='')}/{quote(resource.id, safe='')}"
        body = self._post(where, dumps({"fields": fields}))
        return Snapshot(resource, str(body["version"]), fields_of(body["fields"]))

    def drop_writes(self, enabled: bool) -> None:  # noqa: FBT001  # mirrors the API's flag
        """While enabled, PUT and DELETE answer success but the CRM stores nothing."""
        self._post("/admin/drop-writes", dumps({"enabled": enabled}))

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def _post(self, where: str, body: str) -> dict[str, Value]:
        headers = {"Content-Type": "application/json"}
        try:
            response = self._http.post(where, content=body.encode(), headers=headers)
            response.raise_for_status()
            return fields_of(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            raise ConnectorUnavailable(f"crm admin {where}: {exc}") from exc
