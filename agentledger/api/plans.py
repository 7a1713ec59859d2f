"""``GET /actions?plan_id=``: what an agent already proposed under a plan, and where each is.

An agent that restarts asks this (or ``/actions/{id}`` for one idempotency key) and
resumes where it stopped. An agent sees its own plans; an approver names the agent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from agentledger.api.auth import Callers, bearer
from agentledger.api.documented import problems
from domain.action import Action
from infra.ledger.ledger import Ledger

Token = Annotated[str | None, Depends(bearer)]
NO_NUL = r"^[^\x00]*$"
"""PostgreSQL text holds no NUL: a query naming one is refused (422), never a 500."""
Plans = Callable[[str, str], list[UUID]]
"""(agent id, plan id) -> the actions proposed under the plan, in order (the timeline view)."""


class PlannedOut(BaseModel):
    """One action proposed under a plan."""

    action_id: UUID
    idempotency_key: str
    resource: str
    action_type: str
    status: str = Field(
        description="proposed, denied, awaiting_approval, authorized, approval_rejected,"
        " approval_expired, revoked, executing, retry_pending, applied or failed"
    )


def plans(callers: Callers, ledger: Ledger, planned: Plans) -> APIRouter:
    """The router: an agent reads its own plans, an approver any agent's."""
    router = APIRouter(tags=["actions"])

    @router.get(
        "/actions", response_model=list[PlannedOut],
        responses=problems(401, 404, 413, 422, 429, 503),
    )  # fmt: skip
    def plan(
        plan_id: Annotated[str, Query(min_length=1, max_length=200, pattern=NO_NUL)],
        token: Token,
        agent_id: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    ) -> list[PlannedOut]:  # fmt: skip
        """The actions proposed under the plan, in the order proposed, with their status.

        Proposals rejected before they became actions are not listed (ask
        ``/actions/{id}/decision`` for one idempotency key); nor are those still on
        their way to the decider.
        """
        reader = callers.reader(token)
        owner = reader if reader is not None else agent_id
        if owner is None:
            return []
        ids = planned(owner, plan_id)
        loaded = ledger.load_many(ids)
        return [_out(loaded[aid]) for aid in ids if isinstance(loaded.get(aid), Action)]

    return router


def _out(action: Action) -> PlannedOut:
    return PlannedOut(
        action_id=action.id, idempotency_key=action.idempotency_key,
        resource=action.resource.key, action_type=action.action_type, status=action.status,
    )  # fmt: skip
