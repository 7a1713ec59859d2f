"""Why an authorized action may not start now: its agent's kill switch or the emergency stop."""

from __future__ import annotations

from dataclasses import dataclass

from domain import errors


@dataclass(frozen=True)
class Hold:
    """A cause (``agent_suspended``, ``emergency_stop``) and who pulled it, and why."""

    cause: str
    detail: str

    def error(self) -> errors.DomainError:
        """The domain error a command refused for this hold raises."""
        if self.cause == "emergency_stop":
            return errors.EmergencyStop(self.detail)
        return errors.AgentSuspended(self.detail)
