"""``/agents/{id}/keys``: register, list and revoke the keys an agent signs with (operators)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from agentledger.api.agents import retried
from agentledger.api.auth import Callers, bearer
from agentledger.api.documented import problems
from domain.context import CommandContext
from infra.ledger.ledger import Ledger

Token = Annotated[str | None, Depends(bearer)]
WRITE = (401, 403, 404, 409, 413, 422, 429, 503)


class KeyIn(BaseModel):
    """An Ed25519 public key to register."""

    model_config = ConfigDict(extra="forbid")

    public_key: str = Field(
        pattern=r"^[A-Za-z0-9+/]{43}=$", description="The raw 32-byte public key, base64."
    )


class RevocationIn(BaseModel):
    """Why a key is revoked."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class KeyOut(BaseModel):
    """One key of an agent."""

    agent_id: str
    key_id: str
    public_key: str | None = Field(description="base64; `null` once revoked")
    state: str = Field(description="`active` or `revoked`")


def agent_keys(callers: Callers, ledger: Ledger) -> APIRouter:
    """The router: writes for the role ``operator``, reads for any approver."""
    router = APIRouter(prefix="/agents/{agent_id}/keys", tags=["agents"])

    @router.get("", response_model=list[KeyOut], responses=problems(401, 404, 413, 422, 429, 503))
    def listing(agent_id: str, token: Token) -> list[KeyOut]:
        """The agent's keys, active and revoked."""
        callers.approver(token)
        with ledger.batch(_context()) as tx:
            agent = tx.agent(agent_id)
        active = [KeyOut(agent_id=agent_id, key_id=kid, public_key=_b64(raw), state="active")
                  for kid, raw in sorted(agent.keys.items())]  # fmt: skip
        revoked = [KeyOut(agent_id=agent_id, key_id=kid, public_key=None, state="revoked")
                   for kid in sorted(agent.revoked_keys)]  # fmt: skip
        return active + revoked

    @router.post("", status_code=201, response_model=KeyOut, responses=problems(*WRITE))
    def register(agent_id: str, body: KeyIn, token: Token) -> KeyOut:
        """Register a key: proposals signed with it are the agent's (no-op if registered)."""
        caller = callers.operator(token)
        raw = base64.b64decode(body.public_key)
        kid = retried(ledger, lambda tx: tx.register_key(agent_id, public_key=raw, by=caller.name))
        return KeyOut(agent_id=agent_id, key_id=kid, public_key=body.public_key, state="active")

    @router.post("/{key_id}/revoke", response_model=KeyOut, responses=problems(*WRITE))
    def revoke(agent_id: str, key_id: str, body: RevocationIn, token: Token) -> KeyOut:
        """Revoke a key: nothing signed with it is accepted any more."""
        caller = callers.operator(token)
        retried(
            ledger,
            lambda tx: tx.revoke_key(agent_id, key=key_id, reason=body.reason, by=caller.name),
        )
        return KeyOut(agent_id=agent_id, key_id=key_id, public_key=None, state="revoked")

    return router


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _context() -> CommandContext:
    return CommandContext(now=datetime.now(UTC), new_id=uuid4, correlation_id=uuid4())
