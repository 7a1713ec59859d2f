"""Errors as RFC 9457 problem details (``application/problem+json``)."""

from __future__ import annotations

from eventsourcing.persistence import IntegrityError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from agentledger.api.auth import RoleRequired
from agentledger.api.login_limits import LoginLimits, TooManyFailedLogins
from agentledger.approvals import NoSuchApproval, Unauthenticated, VersionUnavailable
from agentledger.oidc import IssuerUnavailable
from domain import errors
from domain.signing import Unsignable
from infra.proposal_sink import ProposalNotDelivered, ProposalTooLarge
from infra.serde.errors import RegistryUnavailable


class InvalidRequest(ValueError):
    """A request body the contracts refuse beyond what its model checks (a bad resource...)."""


STATUS: tuple[tuple[type[Exception], int, str], ...] = (
    (InvalidRequest, 422, "invalid_request"),
    (NoSuchApproval, 404, "not_found"),
    (LookupError, 404, "not_found"),
    (errors.SelfApproval, 403, "self_approval"),
    (errors.ApproverNotEligible, 403, "approver_not_eligible"),
    (errors.AlreadyApproved, 409, "already_approved"),
    (errors.ApprovalWindowClosed, 409, "approval_expired"),
    (errors.StaleApproval, 409, "stale_approval"),
    (errors.ExecutionInFlight, 409, "execution_in_flight"),
    (errors.AgentSuspended, 409, "agent_suspended"),
    (errors.EmergencyStop, 409, "emergency_stop"),
    (errors.InvalidTransition, 409, "invalid_transition"),
    (errors.UnknownAgent, 404, "not_found"),
    (errors.UnknownKey, 404, "not_found"),
    (errors.KeyRevoked, 409, "key_revoked"),
    (errors.InvalidKey, 422, "invalid_key"),
    (Unsignable, 422, "unsignable"),
    (RoleRequired, 403, "role_required"),
    (errors.DomainError, 409, "refused"),
    (IntegrityError, 409, "conflict"),
    (VersionUnavailable, 503, "resource_version_unavailable"),
    (IssuerUnavailable, 503, "issuer_unavailable"),
    (ProposalNotDelivered, 503, "proposal_not_delivered"),
    (ProposalTooLarge, 413, "proposal_too_large"),
    (RegistryUnavailable, 503, "registry_unavailable"),
)


def problem(
    status: int, code: str, detail: str, instance: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A problem-details response."""
    body = {
        "type": f"urn:agentledger:problem:{code}", "title": code.replace("_", " "),
        "status": status, "detail": detail, "instance": instance,
    }  # fmt: skip
    return JSONResponse(body, status, headers=headers, media_type="application/problem+json")


def install(app: FastAPI, logins: LoginLimits) -> None:
    """Map domain and API errors to problem details on ``app``; count failed logins."""

    async def unauthenticated(request: Request, exc: Exception) -> JSONResponse:
        logins.failed(request)
        path, challenge = request.url.path, {"WWW-Authenticate": "Bearer"}
        return problem(401, "unauthenticated", str(exc), path, challenge)

    async def throttled(request: Request, exc: Exception) -> JSONResponse:
        wait = str(exc.retry_after_s)  # type: ignore[attr-defined]  # a TooManyFailedLogins
        path = request.url.path
        return problem(429, "too_many_failed_logins", str(exc), path, {"Retry-After": wait})

    app.add_exception_handler(Unauthenticated, unauthenticated)
    app.add_exception_handler(TooManyFailedLogins, throttled)
    for exc_type, status, code in STATUS:

        async def handler(
            request: Request, exc: Exception, status: int = status, code: str = code
        ) -> JSONResponse:
            return problem(status, code, str(exc), request.url.path)

        app.add_exception_handler(exc_type, handler)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors()  # type: ignore[attr-defined]  # a RequestValidationError
        )
        return problem(422, "invalid_request", detail, request.url.path)

    app.add_exception_handler(RequestValidationError, invalid)
