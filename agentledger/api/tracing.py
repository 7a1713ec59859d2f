"""A span per API request, in the trace its ``traceparent`` header names (W3C)."""

from __future__ import annotations

from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Receive, Scope, Send

from infra.telemetry.tracing import from_headers, tracer, wanted

ROUTES = frozenset({"proposals", "actions", "approvals", "agents", "fleet", "controls"})
"""The first path segments span names keep (anything else is named by its method only)."""


class TraceRequests:
    """Runs each traced request inside a server span; the proposals it sends carry it on."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap ``app``."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Trace the request when exporting, or when the caller's trace asks to go on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1"): value for name, value in scope["headers"]}
        if not wanted(headers):
            await self.app(scope, receive, send)
            return
        method, first = scope["method"], scope["path"].lstrip("/").partition("/")[0]
        with tracer.start_as_current_span(
            f"{method} /{first}" if first in ROUTES else method,
            context=from_headers(headers), kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope["path"]},
        ):  # fmt: skip
            await self.app(scope, receive, send)
