"""nginx in front of the registry: anyone may read schemas, only the operator may change them.

Apicurio 3.0 authenticates only through an OpenID Connect provider, so the stack binds
it to a loopback port of its own and gives clients this gate's address instead. GET
(and the two read-only POSTs: looking a schema up under a subject, testing
compatibility) pass as they are; every other method (registering, setting a rule,
deleting) needs HTTP basic auth as ``operator``. A path that could read differently
once decoded (dot segments, encoded slashes or dots, empty segments) is refused, so
what nginx authorizes is what Apicurio serves.
"""

from __future__ import annotations

import base64
import grp
import hashlib
import os
import pwd
import secrets
import shutil
import subprocess
from pathlib import Path

import httpx

from infra.stack.component import ComponentStatus
from infra.stack.config import StackConfig
from infra.stack.errors import StackError
from infra.stack.postgres import let_traverse
from infra.stack.process import OwnedProcess
from infra.stack.secrets import Secrets
from infra.stack.wait import wait_healthy

NAME = "registry-gate"
OPERATOR = "operator"
OPERATOR_ENTRY = "registry.operator"
"""The operator's registry password, by its name in the deployment's secrets."""
WORKER = "nobody"
"""The user nginx's worker runs as when the stack runs as root (nginx's own default)."""
REALM = "agentledger registry"
TEMPORARY = ("body", "proxy", "fastcgi", "uwsgi", "scgi")
CONF = """\
daemon off;
worker_processes 1;
pid {home}/nginx.pid;
error_log {log} warn;
{user}
events {{ worker_connections 256; }}
http {{
    access_log off;
    server_tokens off;
    client_max_body_size 8m;
{temporary}
    upstream apicurio {{ server 127.0.0.1:{backend}; keepalive 8; }}
    server {{
        listen 127.0.0.1:{port};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Authorization "";
        proxy_set_header X-HTTP-Method-Override "";
        proxy_set_header X-HTTP-Method "";
        proxy_set_header X-Method-Override "";
        if ($request_uri ~* "(%2e|%2f|%5c|//|/\\.\\.?(/|\\?|$))") {{ return 400; }}
        location ~ ^/apis/ccompat/v7/subjects/[^/]+/?$ {{
            limit_except GET POST {{ {auth} }}
            proxy_pass http://apicurio;
        }}
        location ~ ^/apis/ccompat/v7/compatibility/ {{
            limit_except GET POST {{ {auth} }}
            proxy_pass http://apicurio;
        }}
        location / {{
            limit_except GET {{ {auth} }}
            proxy_pass http://apicurio;
        }}
    }}
}}
"""


class LocalRegistryGate:
    """The project's own nginx in front of its Apicurio."""

    name = NAME

    def __init__(self, config: StackConfig, secrets_store: Secrets) -> None:
        """Its files under ``config.state_dir / "registry-gate"``."""
        self._config = config
        self._secrets = secrets_store
        self._home = config.state_dir / NAME
        self._conf = self._home / "nginx.conf"
        self._log = config.logs / f"{NAME}.log"
        self._process = OwnedProcess(self._home / "gate.pid", str(self._conf))

    def ports(self) -> dict[str, int]:
        """The registry's public port (Apicurio itself listens on the backend port)."""
        return {"registry_port": self._config.registry_port}

    def pid(self) -> int | None:
        """Nginx's master pid if it runs (and is ours)."""
        return self._process.pid()

    def launch(self) -> bool:
        """Write the password file and the configuration, check them, start nginx."""
        if self._process.pid() is not None:
            return False
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(nginx).exists():
            raise StackError(NAME, "nginx is not installed (run `make install`)")
        self._write_files()
        checked = subprocess.run(
            [nginx, "-t", "-q", "-c", str(self._conf)], capture_output=True, text=True,
            timeout=30, check=False,
        )  # fmt: skip
        if checked.returncode != 0:
            raise StackError(NAME, f"its configuration is refused: {checked.stderr.strip()}")
        self._process.launch(
            [nginx, "-c", str(self._conf)], self._log, dict(os.environ), self._home
        )
        return True

    def await_healthy(self) -> None:
        """Wait until a read through the gate answers."""
        wait_healthy(
            NAME, lambda: probe(self._config.registry_url),
            timeout_s=self._config.start_timeout_s, log=self._log,
            alive=lambda: self._process.pid() is not None,
        )  # fmt: skip

    def status(self) -> ComponentStatus:
        """Pid, health (a read through the gate) and nginx's version."""
        problem = probe(self._config.registry_url)
        return ComponentStatus(
            NAME, self._config.registry_url, self._process.pid(), problem is None,
            nginx_version(), self._log, external=False, problem=problem,
        )  # fmt: skip

    def stop(self) -> bool:
        """SIGTERM (nginx's fast shutdown), SIGKILL after 10 s."""
        return self._process.stop(timeout_s=10.0)

    def _write_files(self) -> None:
        """The password file (the operator's salted hash) and the configuration, owner-only."""
        self._home.mkdir(parents=True, exist_ok=True, mode=0o700)
        worker = _worker_ids()
        passwords = self._home / "htpasswd"
        _write_private(passwords, f"{OPERATOR}:{ssha(self._secrets.get(OPERATOR_ENTRY))}\n", worker)
        for name in TEMPORARY:
            (self._home / "tmp" / name).mkdir(parents=True, exist_ok=True)
            if worker is not None:
                os.chown(self._home / "tmp" / name, *worker)
        if worker is not None:  # the worker reads the password file inside this folder
            os.chown(self._home, 0, worker[1])
            self._home.chmod(0o750)
            let_traverse(self._home)
        auth = f'auth_basic "{REALM}"; auth_basic_user_file {passwords};'
        conf = CONF.format(
            home=self._home, log=self._log, port=self._config.registry_port,
            backend=self._config.registry_backend_port, auth=auth,
            user=f"user {WORKER} {_group_name(worker)};" if worker is not None else "",
            temporary="\n".join(
                f"    {name}_temp_path {self._home / 'tmp' / name};"
                if name != "body" else f"    client_body_temp_path {self._home / 'tmp' / name};"
                for name in TEMPORARY
            ),
        )  # fmt: skip
        _write_private(self._conf, conf, None)


def ssha(password: str) -> str:
    """``password`` as nginx's ``{SSHA}`` scheme: base64(sha1(password + salt) + salt)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324  # nginx's scheme; the password is 256 random bits
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _worker_ids() -> tuple[int, int] | None:
    """(uid, gid) of nginx's worker if the stack runs as root, else ``None`` (it runs as us)."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(WORKER)
    return entry.pw_uid, entry.pw_gid


def _group_name(worker: tuple[int, int] | None) -> str:
    return grp.getgrgid(worker[1]).gr_name if worker is not None else ""


def _write_private(path: Path, text: str, owner: tuple[int, int] | None) -> None:
    """Write ``text`` to ``path`` readable by its owner only (``owner``: uid, gid if given)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    path.chmod(0o600)
    if owner is not None:
        os.chown(path, *owner)


def nginx_version() -> str:
    """The version of nginx, as ``nginx -v`` prints it."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    try:
        done = subprocess.run([nginx, "-v"], capture_output=True, text=True, timeout=5, check=False)
    except OSError:
        return "?"
    return done.stderr.strip().rpartition("/")[2] or "?"


def probe(url: str) -> str | None:
    """``None`` if a read of ``{url}/subjects`` through the gate answers 200 within 2 s."""
    try:
        response = httpx.get(f"{url}/subjects", timeout=2.0)
    except httpx.HTTPError as exc:
        return f"no answer from {url} ({exc.__class__.__name__})"
    if response.status_code != httpx.codes.OK:
        return f"{url}/subjects answered {response.status_code}"
    return None
