"""Deployment credentials: drawn once, kept for the owner alone, the same for every reader."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from infra.stack.secrets import Secrets

pytestmark = pytest.mark.unit


def test_a_credential_is_drawn_once_and_read_back_ever_after(tmp_path: Path) -> None:
    """The first get draws a long random value; later gets, and other instances, return it."""
    path = tmp_path / "state" / "secrets.json"
    first = Secrets(path).get("registry.operator")
    assert len(first) >= 40
    assert Secrets(path).get("registry.operator") == first
    assert Secrets(path).find("registry.operator") == first
    assert Secrets(path).get("another") != first


def test_find_never_draws(tmp_path: Path) -> None:
    """Looking a credential up does not create it (nor the file)."""
    secrets = Secrets(tmp_path / "secrets.json")
    assert secrets.find("registry.operator") is None
    assert not secrets.path.exists()


def test_the_file_and_its_folder_are_the_owners_alone(tmp_path: Path) -> None:
    """The credentials file is mode 0600, a folder it creates 0700."""
    path = tmp_path / "new" / "secrets.json"
    Secrets(path).get("x")
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_concurrent_first_gets_agree(tmp_path: Path) -> None:
    """Sixteen threads asking for new credentials at once all get the same value per name."""
    path, start = tmp_path / "secrets.json", threading.Barrier(16)
    got: list[tuple[str, str]] = []

    def ask(index: int) -> None:
        start.wait(10)
        name = f"n{index % 4}"
        got.append((name, Secrets(path).get(name)))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    by_name: dict[str, set[str]] = {}
    for name, value in got:
        by_name.setdefault(name, set()).add(value)
    assert len(got) == 16
    assert all(len(values) == 1 for values in by_name.values())
    assert {name: next(iter(v)) for name, v in by_name.items()} == {
        name: Secrets(path).find(name) for name in by_name
    }
