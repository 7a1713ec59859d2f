"""What a log line is about, beyond its message: the action a thread works on now.

A thread that works on an action says so with :func:`about_action`; every line it logs
meanwhile carries ``action_id`` (a JSON field, or nothing in text lines, whose messages
name the action themselves).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from uuid import UUID

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
    """Adds ``action_id`` (when a thread works on one) to every record; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate ``record``."""
        action_id = ACTION_ID.get()
        if action_id is not None:
            record.action_id = action_id
        return True
