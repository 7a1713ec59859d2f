"""The README keeps its promises: the two-command quick start and every setting documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agentledger.settings import Settings

pytestmark = pytest.mark.unit

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_quick_start_is_exactly_make_demo_and_make_test() -> None:
    """The first code block of the README runs `make demo` then `make test`, and nothing else."""
    block = re.search(r"## Quick start\s+```sh\n(.*?)```", README, re.DOTALL)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]


def test_every_setting_is_in_the_settings_table() -> None:
    """Each field of Settings appears in the README's table under its environment variable."""
    documented = set(re.findall(r"^\| `(AGENTLEDGER_[A-Z_]+)` \|", README, re.MULTILINE))
    expected = {f"AGENTLEDGER_{name.upper()}" for name in Settings.model_fields}
    assert documented == expected


def test_every_make_target_is_documented() -> None:
    """Each target with a `##` help line in the Makefile is named in the README."""
    makefile = (Path(__file__).parents[2] / "Makefile").read_text()
    targets = re.findall(r"^([a-z]+):.*## ", makefile, re.MULTILINE)
    assert targets
    for target in targets:
        assert f"make {target}" in README or f"`make {target}`" in README, target
