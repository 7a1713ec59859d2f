"""The FastAPI application (OpenAPI at ``/docs``); every route needs a bearer token.

Approvers (``approvers`` setting) read actions and the approval queue and approve,
reject or revoke; agents propose, and read their own actions and decisions.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import AwareDatetime

from agentledger.api.agent_keys import agent_keys
from agentledger.api.agents import agent_controls
from agentledger.api.auth import AgentTokens, Callers, bearer
from agentledger.api.body_limits import BodyLimits
from agentledger.api.decisions import Timeline, decision_for
from agentledger.api.documented import problems
from agentledger.api.fleet import fleet_controls
from agentledger.api.login_limits import LoginLimits
from agentledger.api.models import (
    ActionOut,
    ApprovalOut,
    ApprovalState,
    ApproveIn,
    DecisionOut,
    ProposalAccepted,
    ProposalIn,
    ReasonIn,
    SignatureIn,
)
from agentledger.api.plans import Plans, plans
from agentledger.api.problems import InvalidRequest, install
from agentledger.api.shown import shown
from agentledger.api.timeline import action_view
from agentledger.api.tracing import TraceRequests
from agentledger.approvals import ApprovalDesk
from domain.events import ActionProposed
from domain.events.proposals import Signature
from domain.ids import action_id
from domain.proposal_limits import proposal_problem
from domain.values import ResourceRef
from infra.ledger.approval_index import ApprovalRow
from infra.ledger.ledger import Ledger
from infra.proposal_sink import ProposalSink

Token = Annotated[str | None, Depends(bearer)]
READ = (401, 404, 413, 422, 429, 503)
DECIDE = (401, 403, 404, 409, 413, 422, 429, 503)


def create_app(  # noqa: PLR0913  # the API's collaborators and its two limits
    desk: ApprovalDesk, ledger: Ledger, sink: ProposalSink, agents: AgentTokens,
    timeline: Timeline, *, max_body_bytes: int, failed_logins: str,
    planned: Plans = lambda _agent, _plan: [],
) -> FastAPI:  # fmt: skip
    """The API over ``desk``, ``ledger`` and the ``timeline`` view; proposals go to ``sink``.

    ``planned`` lists an agent's actions under a plan (the timeline view).

    Bodies over ``max_body_bytes`` get 413; a client past ``failed_logins`` (e.g.
    ``20/minute``) failed authentications gets 429 until its window clears.
    """
    logins = LoginLimits(failed_logins)
    app = FastAPI(
        title="agentledger",
        summary="Governance of what AI agents do to systems of record.",
        version="0.1.0",
        dependencies=[Depends(logins.check)],
    )
    app.add_middleware(BodyLimits, max_bytes=max_body_bytes)
    app.add_middleware(TraceRequests)
    install(app, logins)
    callers = Callers(desk, agents)
    app.include_router(_actions(callers, ledger, sink, timeline))
    app.include_router(_approvals(callers, desk, ledger))
    app.include_router(agent_keys(callers, ledger))
    app.include_router(agent_controls(callers, ledger))
    app.include_router(fleet_controls(callers, ledger))
    app.include_router(plans(callers, ledger, planned))
    return app


def _signature(given: SignatureIn | None) -> Signature | None:
    if given is None:
        return None
    return Signature(key_id=given.key_id, value=base64.b64decode(given.value))


def _actions(callers: Callers, ledger: Ledger, sink: ProposalSink, timeline: Timeline) -> APIRouter:
    router = APIRouter(tags=["actions"])

    @router.post(
        "/proposals", status_code=202, response_model=ProposalAccepted,
        responses=problems(401, 413, 422, 429, 503),
    )  # fmt: skip
    def propose(body: ProposalIn, token: Token) -> ProposalAccepted:
        """Propose an action as the agent the token names (decided asynchronously)."""
        agent_id = callers.agent(token)
        try:  # the contract's checks: a resource key's shape, names, sizes, amounts
            proposal = ActionProposed.model_validate({
                "metadata": {"event_id": uuid4(), "correlation_id": uuid4(),
                             "occurred_at": datetime.now(UTC)},
                "agent_id": agent_id, "resource": ResourceRef.parse(body.resource),
                **body.model_dump(exclude={"resource", "signature"}),
                "signature": _signature(body.signature),
            })  # fmt: skip
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise InvalidRequest(f"the proposal is not valid: {exc}") from exc
        problem = proposal_problem(proposal)
        if problem is not None:
            raise InvalidRequest(f"the proposal is not valid: {problem}")
        sink.send(proposal)
        aid = action_id(agent_id, body.idempotency_key)
        return ProposalAccepted(action_id=aid, status_url=f"/actions/{aid}")

    @router.get("/actions/{aid}", response_model=ActionOut, responses=problems(*READ))
    def get_action(aid: UUID, token: Token) -> ActionOut:
        """An action's state and every event of its timeline."""
        who = callers.reader(token)
        view = action_view(ledger, aid)
        if who is not None and view.agent_id != who:
            raise LookupError(f"no action {aid}")
        return view

    @router.get("/actions/{aid}/decision", response_model=DecisionOut, responses=problems(*READ))
    def get_decision(
        aid: UUID, token: Token, since: Annotated[AwareDatetime | None, Query()] = None
    ) -> DecisionOut:
        """The first decision on the action at or after ``since``: 404 until there is one."""
        return decision_for(timeline, aid, callers.reader(token), since)

    return router


def _approvals(callers: Callers, desk: ApprovalDesk, ledger: Ledger) -> APIRouter:
    router = APIRouter(prefix="/approvals", tags=["approvals"])

    @router.get("", response_model=list[ApprovalOut], responses=problems(401, 413, 422, 429, 503))
    def listing(
        token: Token,
        state: Annotated[ApprovalState | None, Query()] = "pending",
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[ApprovalOut]:
        """Approval requests in ``state`` (default: pending), oldest first."""
        callers.approver(token)
        return [_out(row) for row in desk.index.listing(state, limit)]

    @router.post("/{aid}/approve", response_model=ApprovalOut, responses=problems(*DECIDE))
    def approve(aid: UUID, body: ApproveIn, token: Token) -> ApprovalOut:
        """Approve, bound to the action digest and the resource version seen."""
        desk.approve(callers.approver(token), aid, **body.model_dump())
        return _out(desk.request(aid))

    @router.post("/{aid}/reject", response_model=ApprovalOut, responses=problems(*DECIDE))
    def reject(aid: UUID, body: ReasonIn, token: Token) -> ApprovalOut:
        """Reject: the action will never run."""
        desk.reject(callers.approver(token), aid, body.reason)
        return _out(desk.request(aid))

    @router.post("/{aid}/revoke", response_model=ActionOut, responses=problems(*DECIDE))
    def revoke(aid: UUID, body: ReasonIn, token: Token) -> ActionOut:
        """Revoke the authorization; after execution, a compensation is proposed."""
        desk.revoke(callers.approver(token), aid, body.reason)
        return action_view(ledger, aid)

    return router


def _out(row: ApprovalRow) -> ApprovalOut:
    return ApprovalOut.model_validate(
        {**row.__dict__, "resource": row.resource_key, "parameters": shown(row.parameters)}
    )
