"""The one retry policy: outages waited out, the work's own errors given up on, stop obeyed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
import pytest

from consumers.runtime.retry import GaveUp, RetryPolicy, Stopped, waiting_out
from infra.outages import OUTAGES


class _Forged(Exception):
    """An error no retry can change."""


def _failing(errors: list[Exception], result: str = "done") -> tuple[list[int], Callable[[], str]]:
    calls = [0]

    def work() -> str:
        calls[0] += 1
        if errors:
            raise errors.pop(0)
        return result

    return calls, work


def test_an_outage_is_waited_out_however_many_times_it_repeats() -> None:
    """Five database outages in a row, more than the attempts for own errors: still done."""
    calls, work = _failing([psycopg.OperationalError("down")] * 5)
    policy = RetryPolicy(attempts=2, backoff_s=0.001, max_backoff_s=0.001)
    assert policy.run(work, threading.Event()) == "done"
    assert calls == [6]


def test_an_error_of_the_work_itself_is_tried_attempts_times_then_given_up_with_its_cause() -> None:
    """Three ValueErrors: GaveUp after the third, its cause the last error."""
    calls, work = _failing(
        [ValueError("bad 1"), ValueError("bad 2"), ValueError("bad 3"), ValueError("x")]
    )
    policy = RetryPolicy(attempts=3, backoff_s=0.001, max_backoff_s=0.001)
    with pytest.raises(GaveUp) as caught:
        policy.run(work, threading.Event())
    assert calls == [3]
    assert str(caught.value.__cause__) == "bad 3"


def test_outages_between_own_errors_do_not_count_towards_giving_up() -> None:
    """Own error, outage, own error, outage, success with attempts=3: done."""
    down = psycopg.OperationalError("down")
    calls, work = _failing([ValueError("a"), down, ValueError("b"), down])
    policy = RetryPolicy(attempts=3, backoff_s=0.001, max_backoff_s=0.001)
    assert policy.run(work, threading.Event()) == "done"
    assert calls == [5]


def test_a_never_retried_error_is_raised_at_once() -> None:
    """A forged record's error: one call, raised as it is."""
    calls, work = _failing([_Forged("forged")])
    policy = RetryPolicy(never_retried=(_Forged,), backoff_s=0.001)
    with pytest.raises(_Forged):
        policy.run(work, threading.Event())
    assert calls == [1]


def test_a_result_that_asks_to_wait_is_tried_again_without_limit() -> None:
    """``again`` says busy four times: the fifth answer is returned, no GaveUp."""
    answers = ["busy"] * 4 + ["applied"]
    policy = RetryPolicy(attempts=1, backoff_s=0.001, max_backoff_s=0.001)
    assert (
        policy.run(lambda: answers.pop(0), threading.Event(), again=lambda a: a == "busy")
        == "applied"
    )
    assert answers == []


def test_shutdown_interrupts_a_long_wait_promptly() -> None:
    """A 30 s backoff during an outage ends within a second of the stop event."""
    stop = threading.Event()
    calls, work = _failing([psycopg.OperationalError("down")] * 100)
    policy = RetryPolicy(backoff_s=30, max_backoff_s=30)
    threading.Timer(0.2, stop.set).start()
    began = time.monotonic()
    with pytest.raises(Stopped):
        policy.run(work, stop)
    assert time.monotonic() - began < 1.5
    assert calls == [1], "no attempt after the stop"


def test_nothing_is_attempted_once_stopped() -> None:
    """A set stop event: Stopped before the work runs at all."""
    stop = threading.Event()
    stop.set()
    calls, work = _failing([])
    with pytest.raises(Stopped):
        RetryPolicy().run(work, stop)
    assert calls == [0]


def test_the_process_is_not_ready_while_it_waits_an_outage_out() -> None:
    """During the database outage ``waiting_out()`` is true; once the work is done, false again."""
    seen: list[bool] = []

    def work() -> str:
        seen.append(waiting_out())
        if len(seen) < 3:
            raise psycopg.OperationalError("down")
        return "done"

    assert not waiting_out()
    assert RetryPolicy(backoff_s=0.001, max_backoff_s=0.001).run(work, threading.Event()) == "done"
    assert seen == [False, True, True]
    assert not waiting_out()


def test_waiting_for_a_busy_resource_or_an_own_error_leaves_the_process_ready() -> None:
    """Only an outage makes a process unready: not a busy answer, not a failing record."""
    seen, work = _answering([ValueError("bad"), "busy", "done"])
    policy = RetryPolicy(backoff_s=0.001, max_backoff_s=0.001)
    assert policy.run(work, threading.Event(), again=lambda a: a == "busy") == "done"
    assert seen == [False, False, False]


def test_readiness_follows_the_latest_attempt_not_the_first_outage() -> None:
    """Outage, then an emergency stop, then a busy answer: unready only during the outage."""
    seen, work = _answering([psycopg.OperationalError("down"), _Halt("stop"), "busy", "done"])
    policy = RetryPolicy(backoff_s=0.001, max_backoff_s=0.001, waited_out=(_Halt, *OUTAGES))
    assert policy.run(work, threading.Event(), again=lambda a: a == "busy") == "done"
    assert seen == [False, True, False, False]
    assert not waiting_out()


class _Halt(Exception):
    """An emergency stop: waited out, but no outage."""


def _answering(answers: list[object]) -> tuple[list[bool], Callable[[], object]]:
    """Work that gives (or raises) ``answers`` in turn, noting whether the process waited."""
    seen: list[bool] = []

    def work() -> object:
        seen.append(waiting_out())
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return seen, work
