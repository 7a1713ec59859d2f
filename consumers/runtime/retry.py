"""The one retry policy of every service, through tenacity.

Work that fails with an outage (database, registry, broker: ``infra.outages``) or asks
to wait (a busy resource, an emergency stop) is tried again for as long as that lasts,
with a capped exponential backoff. Work that fails for a reason of its own is tried
``attempts`` times, then :class:`GaveUp` says so, and the caller sets the work aside
with the reason. Shutdown interrupts the wait and the next attempt (:class:`Stopped`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import RetryCallState, Retrying, wait_exponential

from infra.outages import OUTAGES

log = logging.getLogger("agentledger.retry")
T = TypeVar("T")


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
        own_failures = 0

        def retry(state: RetryCallState) -> bool:
            outcome = state.outcome
            if outcome is None:
                return False
            if not outcome.failed:
                return again is not None and again(outcome.result())
            exc = outcome.exception()
            if isinstance(exc, Stopped | GaveUp) or not isinstance(exc, Exception):
                return False  # a nested policy's verdict, or SystemExit: not ours to retry
            return isinstance(exc, self.waited_out) or not isinstance(exc, self.never_retried)

        def give_up(state: RetryCallState) -> bool:
            nonlocal own_failures
            exc = state.outcome.exception() if state.outcome and state.outcome.failed else None
            if exc is None or isinstance(exc, self.waited_out):
                if exc is not None:
                    self.on_wait(exc)
                return False
            own_failures += 1
            log.error("attempt %d of %d failed", own_failures, self.attempts, exc_info=exc)
            return own_failures >= self.attempts

        def before(_state: RetryCallState) -> None:
            if stop.is_set():
                raise Stopped

        retrying = Retrying(
            sleep=_sleeper(stop), stop=give_up, before=before, retry=retry,
            wait=wait_exponential(multiplier=self.backoff_s, max=self.max_backoff_s),
            retry_error_callback=_gave_up,
        )  # fmt: skip
        return retrying(work)


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
