"""An approver's calls to the HTTP API, with the approver's own token.

The CLI decides nothing itself: who the token belongs to, and what that person may do,
is the API's to say (from the server's settings, never from the caller's environment).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

TIMEOUT_S = 30.0


class ApiRefused(Exception):
    """The API refused the call: ``status`` and the problem's ``detail``."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        """What the API answered."""
        super().__init__(f"{code} ({status}): {detail}")
        self.status, self.code = status, code


class ApiUnreachable(Exception):
    """No answer from the API at all."""


def read_token(path: Path) -> str:
    """The token held in the file at ``path`` (its first line)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or not lines[0].strip():
        raise ValueError(f"{path} holds no token")
    return lines[0].strip()


class ApproverClient:
    """Calls the API as the token's holder: approvals, and (for operators) the controls."""

    def __init__(self, base_url: str, token: str) -> None:
        """Call the API at ``base_url`` with bearer ``token``."""
        self._http = httpx.Client(
            base_url=base_url, timeout=TIMEOUT_S, headers={"Authorization": f"Bearer {token}"}
        )

    def listing(self, state: str) -> list[dict[str, Any]]:
        """The approval requests in ``state``, oldest first."""
        found: list[dict[str, Any]] = self._call("GET", "/approvals", params={"state": state})
        return found

    def decide(self, verb: str, action: UUID, body: dict[str, Any]) -> dict[str, Any]:
        """``verb`` (approve, reject or revoke) the action; the API's answer."""
        answer: dict[str, Any] = self._call("POST", f"/approvals/{action}/{verb}", json=body)
        return answer

    def call(self, method: str, url: str, **options: Any) -> Any:  # noqa: ANN401  # JSON
        """Any call of the API (``json=``, ``params=``), as this token's holder; its answer."""
        return self._call(method, url, **options)

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def _call(self, method: str, url: str, **options: Any) -> Any:  # noqa: ANN401  # JSON
        try:
            answer = self._http.request(method, url, **options)
        except httpx.TransportError as exc:
            raise ApiUnreachable(f"no answer from the API at {self._http.base_url}: {exc}") from exc
        if answer.is_success:
            return answer.json()
        try:
            problem = answer.json()
            code, detail = str(problem["type"]).rpartition(":")[2], str(problem["detail"])
        except (ValueError, KeyError, TypeError):
            code, detail = "error", answer.text[:500]
        raise ApiRefused(answer.status_code, code, detail)
