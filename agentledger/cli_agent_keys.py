"""`agentledger agent key add | revoke | rotate | services`: the keys agents sign with."""

from __future__ import annotations

import base64
import getpass
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from rich.console import Console

from agentledger.bootstrap import ledger, system_context
from agentledger.settings import Settings
from agentledger.signing_keys import pem, service_public_keys
from domain.errors import DomainError
from domain.signing import public_bytes
from infra.ledger.commands import Commands
from infra.stack.secrets import write_private

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
key_app = typer.Typer(
    help="The Ed25519 keys an agent signs its proposals with.", no_args_is_help=True
)

PublicKeyFile = Annotated[
    Path | None,
    typer.Option(help="The agent's public key (PEM), if it made its own key pair."),
]
PrivateKeyOut = Annotated[
    Path | None,
    typer.Option("--out", help="Else: make a key pair and write the private key (PEM, 0600) here."),
]


def operator_name() -> str:
    """Who the CLI records as having pulled a control: the user at this shell."""
    return f"cli:{getpass.getuser()}"


def public_key_of(public_key: Path | None, private_out: Path | None) -> bytes:
    """The raw public key to register: read from ``public_key``, or made into ``private_out``."""
    if (public_key is None) == (private_out is None):
        err.print("[red]give exactly one of --public-key and --out[/]")
        raise typer.Exit(2)
    if public_key is not None:
        try:
            loaded = load_pem_public_key(public_key.read_bytes())
        except (OSError, ValueError) as exc:
            err.print(f"[red]{public_key} is not a readable PEM public key: {exc}[/]")
            raise typer.Exit(2) from exc
        if not isinstance(loaded, Ed25519PublicKey):
            err.print(f"[red]{public_key} holds a {type(loaded).__name__}, not an Ed25519 key[/]")
            raise typer.Exit(2)
        return public_bytes(loaded)
    fresh = Ed25519PrivateKey.generate()
    write_private(private_out, pem(fresh))  # type: ignore[arg-type]  # checked above
    out.print(f"its private key is in [cyan]{private_out}[/] (mode 0600): hand it to the agent")
    return public_bytes(fresh)


@key_app.command("add")
def add_key(
    agent_id: Annotated[str, typer.Argument(help="The agent.")],
    public_key: PublicKeyFile = None,
    out_file: PrivateKeyOut = None,
) -> None:
    """Register a key for the agent: proposals signed with it are the agent's."""
    raw = public_key_of(public_key, out_file)
    kid = _write(lambda tx: tx.register_key(agent_id, public_key=raw, by=operator_name()))
    out.print(f"key [cyan]{kid}[/] registered for agent [cyan]{agent_id}[/]")


@key_app.command("revoke")
def revoke_key(
    agent_id: Annotated[str, typer.Argument(help="The agent.")],
    key_id: Annotated[str, typer.Argument(help="The key (ed25519:...).")],
    reason: Annotated[str, typer.Option(help="Why (recorded).")],
) -> None:
    """Revoke a key: nothing signed with it is accepted any more."""
    _write(lambda tx: tx.revoke_key(agent_id, key=key_id, reason=reason, by=operator_name()))
    out.print(f"key [cyan]{key_id}[/] of agent [cyan]{agent_id}[/] revoked")


@key_app.command("rotate")
def rotate_key(
    agent_id: Annotated[str, typer.Argument(help="The agent.")],
    old: Annotated[str, typer.Option(help="The key to retire (ed25519:...).")],
    public_key: PublicKeyFile = None,
    out_file: PrivateKeyOut = None,
) -> None:
    """Register a new key and revoke the old one, in one ledger transaction."""
    raw = public_key_of(public_key, out_file)

    def rotate(tx: Commands) -> str:
        kid = tx.register_key(agent_id, public_key=raw, by=operator_name())
        tx.revoke_key(agent_id, key=old, reason=f"rotated to {kid}", by=operator_name())
        return kid

    kid = _write(rotate)
    out.print(f"agent [cyan]{agent_id}[/] signs with [cyan]{kid}[/] now; {old} is revoked")


@key_app.command("services")
def service_keys() -> None:
    """Print the services' public keys (the value of AGENTLEDGER_SERVICE_PUBLIC_KEYS)."""
    found = service_public_keys(Settings())
    typer.echo(json.dumps({name: base64.b64encode(key).decode() for name, key in found.items()}))


def _write(command: Callable[[Commands], object]) -> str:
    the_ledger = ledger(Settings())
    try:
        with the_ledger.batch(system_context()) as tx:
            return str(command(tx))
    except DomainError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    finally:
        the_ledger.close()
