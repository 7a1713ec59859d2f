"""Request bodies refused before any handler runs: too large (413), or bad JSON (422).

Bad JSON does not parse, nests too deep or holds text that no store accepts. This is a pure ASGI
middleware because the body has to be read with a cap before FastAPI parses it: the
standard JSON parser raises ``RecursionError`` (a 500) on deep enough nesting.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentledger.api.problems import problem
from domain.proposal_limits import MAX_DEPTH, value_problem

BODY_DEPTH = MAX_DEPTH + 1
DIGITS = 18
"""A declared length longer than this is too large whatever it says (and int() stays cheap)."""
"""The body object, then its fields' values (a proposal's parameters are at depth 2)."""


class BodyLimits:
    """Caps every request body at ``max_bytes`` and checks its JSON before the app sees it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        """Wrap ``app``."""
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body up to the cap, refuse it or hand it on unchanged."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        too_large = (
            not declared.isdigit() or len(declared) > DIGITS or int(declared) > self.max_bytes
        )
        chunks, size, messages = [], 0, []
        while not too_large:
            message = await receive()
            messages.append(message)
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            too_large = size > self.max_bytes
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if too_large:
            detail = f"the request body is larger than {self.max_bytes} bytes"
            await problem(413, "body_too_large", detail, scope["path"])(scope, receive, send)
            return
        refused = _json_problem(body)
        if refused is not None:
            await problem(422, "invalid_request", refused, scope["path"])(scope, receive, send)
            return
        await self.app(scope, _replay(messages, receive), send)


def _json_problem(body: bytes) -> str | None:
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except RecursionError:
        return f"the body nests deeper than {BODY_DEPTH} levels"
    except ValueError as exc:  # not UTF-8, or not JSON
        return f"the body is not JSON: {exc}"
    return value_problem(parsed, "body", BODY_DEPTH)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` that first gives back the messages already read."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed
