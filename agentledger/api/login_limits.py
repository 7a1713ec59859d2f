"""Failed authentications counted per client address: past the limit, 429 until it clears.

Every request from a client over its limit is refused, with a valid token too, so that
guessing cannot go on in the window. The address is the connection's peer, never a
forwarded-for header (the server trusts none), and an IPv6 address counts as its /64, the
block one host usually holds. So behind a proxy, or on one machine, clients share a limit.
``limits`` keeps fixed windows in memory (one API process): a window's counter is deleted
when it expires, so many failing addresses do not grow memory for good.
"""

from __future__ import annotations

import ipaddress
import math
import time

from fastapi import Request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter


class TooManyFailedLogins(Exception):
    """The client failed to authenticate too often: retry after ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        """Say when the client may try again."""
        super().__init__(
            f"too many failed authentications from this client; retry in {retry_after_s} s"
        )
        self.retry_after_s = retry_after_s


class LoginLimits:
    """The failures each client address may make in a window (e.g. ``20/minute``)."""

    def __init__(self, rate: str) -> None:
        """``rate`` in ``limits`` notation: ``N/second``, ``N/minute``, ``N/hour``..."""
        self._item: RateLimitItem = parse(rate)
        self._limiter = FixedWindowRateLimiter(MemoryStorage())

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
    host = request.client.host if request.client else "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:  # noqa: PLR2004  # IPv6
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return host
