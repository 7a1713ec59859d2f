"""The CRM's HTTP layer: routes, body limits, JSON replies; never lets a request crash it."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast
from urllib.parse import parse_qs, unquote, urlsplit

from simulators.crm_saas.parsing import fields_of, json_object, query_int
from simulators.crm_saas.replies import Problem, Reply, problem
from simulators.crm_saas.service import Crm, Write

MAX_BODY = 1_048_576
MAX_PAGE = 1000
log = logging.getLogger("crm_saas")

TRACEPARENT = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


class CrmServer(ThreadingHTTPServer):
    """A threading HTTP server carrying the :class:`Crm` its handlers call."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], crm: Crm) -> None:
        """Bind ``address`` and serve ``crm``."""
        super().__init__(address, Handler)
        self.crm = crm


class Handler(BaseHTTPRequestHandler):
    """One request: parse, route to the service, answer JSON (problems for errors)."""

    protocol_version = "HTTP/1.1"
    server_version = "crm-saas"

    def do_GET(self) -> None:
        """Dispatch a GET."""
        self._dispatch()

    def do_PUT(self) -> None:
        """Dispatch a PUT."""
        self._dispatch()

    def do_DELETE(self) -> None:
        """Dispatch a DELETE."""
        self._dispatch()

    def do_POST(self) -> None:
        """Dispatch a POST."""
        self._dispatch()

    def do_PATCH(self) -> None:
        """Dispatch a PATCH (always refused, but as a problem body)."""
        self._dispatch()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors http.server detects itself (bad request line, huge headers) as problems."""
        self.close_connection = True
        self._answer(problem(code, explain or message or HTTPStatus(code).phrase))

    def _dispatch(self) -> None:
        try:
            raw = self._body()
            reply = self._route(raw)
        except Problem as refused:
            reply = refused.reply()
        except Exception:
            log.exception("unexpected failure on %s %s", self.command, self.path)
            self.close_connection = True
            reply = problem(500, "unexpected failure; see the server log")
        self._answer(reply)

    def _route(self, raw: bytes) -> Reply:  # noqa: PLR0911  # one return per route
        crm = cast("CrmServer", self.server).crm
        url = urlsplit(self.path)
        parts = [unquote(part) for part in url.path.strip("/").split("/")]
        method = self.command
        if "" in parts:
            raise Problem(404, f"no route {method} {url.path}")
        match parts, method:
            case ["admin", "health"], "GET":
                return crm.health()
            case ["admin", "drop-writes"], "POST":
                enabled = json_object(raw).get("enabled")
                if not isinstance(enabled, bool):
                    raise Problem(400, 'the body must be {"enabled": true|false}')
                return crm.set_drop_writes(enabled)
            case ["admin", "records", str(kind), str(ident)], "POST":
                return crm.edit(kind, ident, fields_of(raw))
            case ["v1", "changes", "head"], "GET":
                return crm.changes_head()
            case ["v1", "changes"], "GET":
                query = parse_qs(url.query)
                limit = min(query_int(query, "limit", 100), MAX_PAGE)
                return crm.changes(query_int(query, "since", 0), limit)
            case ["v1", str(kind), str(ident)], "GET":
                return crm.get(kind, ident)
            case ["v1", str(kind), str(ident)], "PUT" | "DELETE":
                key = self.headers.get("Idempotency-Key")
                digest = hashlib.sha256(f"{method} {url.path}\n".encode() + raw).hexdigest()
                patch = fields_of(raw) if method == "PUT" else None
                if_match = self.headers.get("If-Match")
                traced = _traceparent(self.headers.get("traceparent"))
                return crm.write(Write(kind, ident, patch, if_match, key, digest, traced))
        status = 405 if _known(parts) else 404
        raise Problem(status, f"no route {method} {url.path}")

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise Problem(411, "send the body with a Content-Length, not chunked")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise Problem(400, "Content-Length is not a non-negative number")
        if length > MAX_BODY:
            self.close_connection = True
            raise Problem(413, f"the body exceeds {MAX_BODY} bytes", limit=MAX_BODY)
        return self.rfile.read(length)

    def _answer(self, reply: Reply) -> None:
        payload = json.dumps(reply.body).encode()
        kind = "application/problem+json" if reply.status >= 400 else "application/json"  # noqa: PLR2004  # HTTP's error threshold
        self.send_response(reply.status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)


def _known(parts: list[str]) -> bool:
    """True if some method is routed for this path (so another one is a 405)."""
    fixed = (
        ["admin", "health"],
        ["admin", "drop-writes"],
        ["v1", "changes"],
        ["v1", "changes", "head"],
    )
    records = len(parts) == 4 and parts[:2] == ["admin", "records"]  # noqa: PLR2004  # path shape
    return parts in fixed or records or (len(parts) == 3 and parts[0] == "v1")  # noqa: PLR2004  # ditto


def _traceparent(value: str | None) -> str | None:
    """A W3C ``traceparent`` kept as given when it has the version-00 shape, else none."""
    if value is None or not TRACEPARENT.fullmatch(value):
        return None
    return value
