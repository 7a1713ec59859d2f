"""The failed-login limiter alone: addresses, IPv6 blocks, and memory after the window."""

from __future__ import annotations

import time

import pytest
from starlette.requests import Request

from agentledger.api.login_limits import LoginLimits, TooManyFailedLogins


def request_from(host: str) -> Request:
    """A request whose peer is ``host``."""
    return Request({"type": "http", "client": (host, 50000), "headers": [], "method": "GET"})


def test_past_the_limit_the_address_waits_for_its_window() -> None:
    """Three failures a minute: the fourth request is refused, with a wait of at most 60 s."""
    limits = LoginLimits("3/minute")
    for _ in range(3):
        limits.check(request_from("198.51.100.7"))
        limits.failed(request_from("198.51.100.7"))
    with pytest.raises(TooManyFailedLogins) as refused:
        limits.check(request_from("198.51.100.7"))
    assert 1 <= refused.value.retry_after_s <= 60
    limits.check(request_from("198.51.100.8"))  # another address is not affected


def test_an_ipv6_host_counts_as_its_64_block() -> None:
    """Addresses of one /64 (one host's usual allocation) share a limit."""
    limits = LoginLimits("2/minute")
    limits.failed(request_from("2001:db8::1"))
    limits.failed(request_from("2001:db8::ffff:2"))
    with pytest.raises(TooManyFailedLogins):
        limits.check(request_from("2001:db8::3"))
    limits.check(request_from("2001:db8:0:1::1"))  # the next /64


def test_expired_windows_leave_nothing_behind() -> None:
    """A thousand addresses that failed once: after their window, the next failure sweeps.

    The library deletes expired counters when any counter is next touched, so what stays
    is bounded by the addresses failing within one window.
    """
    limits = LoginLimits("5/second")
    for n in range(1000):
        limits.failed(request_from(f"10.0.{n // 256}.{n % 256}"))
    time.sleep(1.2)
    limits.failed(request_from("10.9.9.9"))
    storage = limits._limiter.storage.storage  # type: ignore[attr-defined]  # noqa: SLF001  # the library's memory
    deadline = time.monotonic() + 5
    while len(storage) > 1 and time.monotonic() < deadline:  # the sweep runs in a timer thread
        time.sleep(0.05)
    assert list(storage) == ["LIMITER/10.9.9.9/5/1/second"]
