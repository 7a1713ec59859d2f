"""One measured figure, as written to ``bench/results.json``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal


@dataclass(frozen=True)
class Result:
    """A benchmark figure: ``goal`` is the issue's target, or ``None`` where none is named."""

    name: str
    value: float
    unit: str
    better: Literal["higher", "lower"]
    goal: float | None = None

    def meets_goal(self) -> bool | None:
        """Whether the value reaches the goal (``None`` without a goal)."""
        if self.goal is None:
            return None
        return self.value >= self.goal if self.better == "higher" else self.value <= self.goal

    def as_json(self) -> dict[str, object]:
        """The JSON object written to results.json."""
        return asdict(self)
