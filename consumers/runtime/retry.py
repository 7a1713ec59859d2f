"""The one retry policy of every service, through tenacity.

Work that fails with an outage (database, registry, broker: ``infra.outages``) or asks
to wait (a busy resource, an emergency stop) is tried again for as long as that lasts,
with a capped exponential backoff; while it waits out an outage the process is not ready
(:func:`waiting_out`). Work that fails for a reason of its own is tried ``attempts``
times, then :class:`GaveUp` says so, and the caller sets the work aside with the reason.
Shutdown interrupts the wait and the next attempt (:class:`Stopped`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tenacity import RetryCallState, Retrying, wait_exponential

from infra.outages import OUTAGES

log = logging.getLogger("agentledger.retry")
T = TypeVar("T")


_waits = {"count": 0}
_waits_lock = threading.Lock()


def waiting_out() -> bool:
    """Whether some work in this process is waiting an outage out now (it is not ready)."""
    return _waits["count"] > 0


def _waiting(change: int) -> None:
    with _waits_lock:
        _waits["count"] += change


class Stopped(Exception):  # a state, like StopIteration
    """Shutdown came before the work was done; nothing of it may be taken as done."""


class GaveUp(Exception):  # a state: the work is set aside
    """The work kept failing for a reason of its own (``__cause__`` says which)."""


def _warn(exc: BaseException) -> None:
    log.warning("waiting out %s: %s", type(exc).__name__, exc)


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between attempts, and which errors are waited out."""

    attempts: int = 3
    """Attempts for an error of the work itself, before :class:`GaveUp`."""
    backoff_s: float = 1.0
    max_backoff_s: float = 5.0
    waited_out: tuple[type[BaseException], ...] = OUTAGES
    """Errors that mean "not now": retried without limit."""
    never_retried: tuple[type[BaseException], ...] = ()
    """Errors raised at once unless waited out: retrying cannot change them (a forged record)."""
    on_wait: Callable[[BaseException], None] = field(default=_warn)
    """Called with each waited-out error (a log line by default)."""

    def run(self, work: Callable[[], T], stop: threading.Event, *,
            again: Callable[[T], bool] | None = None) -> T:  # fmt: skip
        """``work()``'s result once it succeeds (and ``again(result)`` is false).

        Raises :class:`Stopped` when ``stop`` is set before, :class:`GaveUp` after
        ``attempts`` failures of the work's own, and ``never_retried`` errors as they are.
        """
        attempts = _Attempts(self, stop, again)
        retrying = Retrying(
            sleep=_sleeper(stop), stop=attempts.give_up, before=attempts.before,
            retry=attempts.retry, retry_error_callback=_gave_up,
            wait=wait_exponential(multiplier=self.backoff_s, max=self.max_backoff_s),
        )  # fmt: skip
        try:
            return retrying(work)
        finally:
            attempts.done()


class _Attempts:
    """One :meth:`RetryPolicy.run`: what tenacity asks after each attempt, and its counts."""

    def __init__(
        self, policy: RetryPolicy, stop: threading.Event, again: Callable[[Any], bool] | None
    ) -> None:
        self.policy, self.stop, self.again = policy, stop, again
        self.own_failures, self.waiting = 0, False

    def retry(self, state: RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None:
            return False
        if not outcome.failed:
            return self.again is not None and self.again(outcome.result())
        exc = outcome.exception()
        if isinstance(exc, Stopped | GaveUp) or not isinstance(exc, Exception):
            return False  # a nested policy's verdict, or SystemExit: not ours to retry
        policy = self.policy
        return isinstance(exc, policy.waited_out) or not isinstance(exc, policy.never_retried)

    def give_up(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome and state.outcome.failed else None
        self._outage(isinstance(exc, OUTAGES))  # a busy answer, a stop, an own error: none
        if exc is None:
            return False  # a result that asks to wait
        if isinstance(exc, self.policy.waited_out):
            self.policy.on_wait(exc)
            return False
        self.own_failures += 1
        log.error("attempt %d of %d failed", self.own_failures, self.policy.attempts, exc_info=exc)
        return self.own_failures >= self.policy.attempts

    def before(self, _state: RetryCallState) -> None:
        if self.stop.is_set():
            raise Stopped

    def done(self) -> None:
        self._outage(now=False)

    def _outage(self, now: bool) -> None:  # noqa: FBT001  # the latest attempt's verdict
        """Count this run as waiting an outage out while its latest attempt met one."""
        if now != self.waiting:
            self.waiting = now
            _waiting(+1 if now else -1)


def _gave_up(state: RetryCallState) -> None:
    """Raise :class:`GaveUp` from the last error (tenacity calls this when ``stop`` said so)."""
    outcome = state.outcome
    if outcome is not None and outcome.failed:
        raise GaveUp(str(outcome.exception())) from outcome.exception()
    raise GaveUp("still not done")


def _sleeper(stop: threading.Event) -> Callable[[float], None]:
    """A sleep that ``stop`` cuts short (whether it did is asked before the next attempt)."""

    def sleep(seconds: float) -> None:
        stop.wait(seconds)

    return sleep
