"""The problem responses each route documents in the OpenAPI document (RFC 9457 bodies)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

PROBLEM_TYPE = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem: ``type`` is ``urn:agentledger:problem:<code>``."""

    type: str
    title: str
    status: int
    detail: str
    instance: str


_MEANING = {
    401: "No valid bearer token for this route.",
    403: "The approver may not decide this action (self-approval, or a role it lacks).",
    404: "No such action or approval request (or not one of the calling agent's).",
    409: "The action is not in a state that allows this (decided, expired, stale, in flight).",
    413: "The request body is larger than the record limit.",
    422: "The request breaks the contract: the field is named in `detail`.",
    429: "Too many failed authentications from this client: retry after `Retry-After`.",
    503: "A system, the bus or the sign-in issuer is unreachable now: retry later.",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer`"}},
    429: {"Retry-After": {"schema": {"type": "string"}, "description": "Seconds to wait."}},
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries of these problem statuses."""
    schema = Problem.model_json_schema()
    return {
        status: {
            "description": _MEANING[status],
            "content": {PROBLEM_TYPE: {"schema": schema}},
            **({"headers": _HEADERS[status]} if status in _HEADERS else {}),
        }
        for status in statuses
    }
