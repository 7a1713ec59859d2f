"""What a log line is about, beyond its message: the action a thread works on now.

A thread that works on an action says so with :func:`about_action`; every line it logs
meanwhile carries ``action_id`` (a JSON field, or nothing in text lines, whose messages
name the action themselves). A line logged inside a span carries ``trace_id`` and
``span_id``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from uuid import UUID

from opentelemetry import trace

ACTION_ID: ContextVar[str | None] = ContextVar("action_id", default=None)


@contextmanager
def about_action(action_id: UUID | str) -> Iterator[None]:
    """Lines logged in the block carry ``action_id``."""
    token = ACTION_ID.set(str(action_id))
    try:
        yield
    finally:
        ACTION_ID.reset(token)


class ContextFilter(logging.Filter):
    """Adds ``action_id`` and the current span's ids (when there are) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate ``record``."""
        action_id = ACTION_ID.get()
        if action_id is not None:
            record.action_id = action_id
        span = trace.get_current_span().get_span_context()
        if span.is_valid:  # the line finds its trace (and span) in the trace store
            record.trace_id = format(span.trace_id, "032x")
            record.span_id = format(span.span_id, "016x")
        return True
