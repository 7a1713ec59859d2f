"""A local OpenID Connect issuer for development, the demo and the tests: never production.

It makes an ES256 key when it starts, publishes discovery and the key set over HTTP on
loopback, and signs tokens for whatever subject and roles it is asked for. Its key lives
in memory only, so its tokens die with it.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, KeySet


class LocalIssuer:
    """Serves ``/.well-known/openid-configuration`` and ``/jwks.json``; mints tokens."""

    def __init__(self, audience: str) -> None:
        """Bind a free loopback port and make a signing key (``start`` serves them)."""
        self.audience = audience
        self.key = ECKey.generate_key("P-256", parameters={"kid": uuid.uuid4().hex[:12]})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> LocalIssuer:
        """Serve in a daemon thread."""
        threading.Thread(target=self._server.serve_forever, daemon=True, name="issuer").start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()

    def mint(
        self, subject: str, roles: list[str], now: datetime, lifetime: timedelta,
        **claims: Any,  # noqa: ANN401  # any claim, to override the defaults
    ) -> str:  # fmt: skip
        """A token for ``subject`` with ``roles``, valid from ``now`` for ``lifetime``."""
        body = {
            "iss": self.url, "aud": self.audience, "sub": subject, "roles": roles,
            "iat": int(now.timestamp()), "exp": int((now + lifetime).timestamp()), **claims,
        }  # fmt: skip
        return jwt.encode({"alg": "ES256", "kid": self.key.kid}, body, self.key)

    def documents(self) -> dict[str, dict[str, Any]]:
        """What it publishes, by path."""
        return {
            "/.well-known/openid-configuration": {
                "issuer": self.url, "jwks_uri": f"{self.url}/jwks.json",
                "id_token_signing_alg_values_supported": ["ES256"],
            },
            "/jwks.json": dict(KeySet([self.key]).as_dict(private=False)),
        }  # fmt: skip


def _handler(issuer: LocalIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = issuer.documents().get(self.path)
            body = json.dumps(found).encode() if found is not None else b"{}"
            self.send_response(200 if found is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:  # requests are not worth a line each
            return

    return Handler
