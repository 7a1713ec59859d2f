"""Failed authentications counted per client address: past the limit, 429 until it clears.

Every request from a client over its limit is refused, with a valid token too, so that
guessing cannot go on in the window. ``limits`` keeps the moving windows in memory (one
API process); behind a proxy every client shares its address, so the limit is shared.
"""

from __future__ import annotations

import math
import time

from fastapi import Request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class TooManyFailedLogins(Exception):
    """The client failed to authenticate too often: retry after ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        """Say when the client may try again."""
        super().__init__(
            f"too many failed authentications from this client; retry in {retry_after_s} s"
        )
        self.retry_after_s = retry_after_s


class LoginLimits:
    """The failures each client address may make in a moving window (e.g. ``20/minute``)."""

    def __init__(self, rate: str) -> None:
        """``rate`` in ``limits`` notation: ``N/second``, ``N/minute``, ``N/hour``..."""
        self._item: RateLimitItem = parse(rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, request: Request) -> None:
        """Raise TooManyFailedLogins while the request's client is over its limit."""
        client = _client(request)
        if not self._limiter.test(self._item, client):
            reset_at = self._limiter.get_window_stats(self._item, client).reset_time
            raise TooManyFailedLogins(max(1, math.ceil(reset_at - time.time())))

    def failed(self, request: Request) -> None:
        """Count one failed authentication against the request's client."""
        self._limiter.hit(self._item, _client(request))


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"
