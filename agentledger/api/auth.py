"""Who is calling: an approver (``approvers`` setting) or an agent (its API token)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Header

from agentledger.approvals import ApprovalDesk, Approver, Unauthenticated


def bearer(authorization: Annotated[str | None, Header()] = None) -> str | None:
    """The bearer token of the request, if any."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


AgentTokens = Callable[[], dict[str, str]]
"""The agents' tokens in effect (token → agent id), asked for on each call: an agent
registered while the API runs is known at once."""


OPERATOR = "operator"
"""The role that pulls the controls: agents' keys, and (later) suspensions and stops."""


class RoleRequired(PermissionError):
    """The caller is signed in but lacks the role the operation needs."""


class Callers:
    """Resolves tokens to approvers and agents."""

    def __init__(self, desk: ApprovalDesk, agents: AgentTokens) -> None:
        """Approvers come from ``desk``; agents from ``agents`` (token → agent id)."""
        self._desk = desk
        self._agents = agents

    def approver(self, token: str | None) -> Approver:
        """The approver holding ``token``, or Unauthenticated."""
        return self._desk.identify(token)

    def operator(self, token: str | None) -> Approver:
        """The approver holding ``token`` if it has the role ``operator``."""
        caller = self._desk.identify(token)
        if OPERATOR not in caller.roles:
            raise RoleRequired(f"{caller.name} lacks the role {OPERATOR!r}")
        return caller

    def agent(self, token: str | None) -> str:
        """The agent holding ``token``, or Unauthenticated."""
        found = self._agent(token)
        if found is None:
            raise Unauthenticated("a valid agent token is required")
        return found

    def reader(self, token: str | None) -> str | None:
        """An agent's id (it reads its own actions), ``None`` for an approver (reads all)."""
        found = self._agent(token)
        if found is not None:
            return found
        self._desk.identify(token)
        return None

    def _agent(self, token: str | None) -> str | None:
        if token:
            for known, agent_id in self._agents().items():
                if hmac.compare_digest(known.encode(), token.encode()):
                    return agent_id
        return None
