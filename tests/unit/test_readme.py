"""The README keeps its promises: its commands run, its links lead somewhere, settings are documented."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentledger.cli import app
from agentledger.settings import Settings
from agentledger.supervision import STOPWAITSECS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()
SETTINGS = (ROOT / "docs" / "settings.md").read_text()


def test_quick_start_is_exactly_make_demo_and_make_test() -> None:
    """The first code block of the README runs `make demo` then `make test`, and nothing else."""
    block = re.search(r"## Quick start\s+```sh\n(.*?)```", README, re.DOTALL)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert commands == ["make demo", "make test"]


def test_every_setting_is_in_the_settings_table() -> None:
    """Each field of Settings is in docs/settings.md under its variable; the README names no other."""
    expected = {f"AGENTLEDGER_{name.upper()}" for name in Settings.model_fields}
    documented = set(re.findall(r"^\| `(AGENTLEDGER_[A-Z_]+)` \|", SETTINGS, re.MULTILINE))
    assert documented == expected
    in_readme = set(re.findall(r"^\| `(AGENTLEDGER_[A-Z_]+)` \|", README, re.MULTILINE))
    assert in_readme
    assert in_readme <= expected


def _commands() -> list[list[str]]:
    """Each `agentledger …` the README shows (code blocks and the command table), as words."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", README, re.DOTALL):
        found += [line.split("#")[0].split() for line in block.splitlines()]
    for cell in re.findall(r"^\| `(agentledger [^|]*)` \|", README, re.MULTILINE):
        found += [part.strip("` ").split() for part in cell.split(" / ")]
    return [words for words in found if words and words[0] == "agentledger"]


def test_every_command_the_readme_shows_exists() -> None:
    """Each command the README shows is one the CLI has: its ``--help`` runs and exits 0.

    A word in capitals or after ``--`` is an argument; the rest names the command.
    """
    commands = _commands()
    assert len(commands) >= 10
    runner = CliRunner()
    for words in commands:
        path = []
        for word in words[1:]:
            if word.startswith("-") or word.isupper() or "." in word or word == "[SERVICE":
                break
            path.append(word)
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, f"`agentledger {' '.join(path)}`: {result.output[-300:]}"


def test_the_systemd_unit_runs_the_supervised_services_and_lets_them_stop() -> None:
    """The unit parses as INI; it starts `agentledger run`, signals only it, waits for the children."""
    block = re.search(r"<!-- systemd-unit -->\n```ini\n(.*?)```", README, re.DOTALL)
    assert block is not None
    unit = configparser.ConfigParser(strict=True)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    unit.read_string(block.group(1))
    service = unit["Service"]
    program, *arguments = service["ExecStart"].split()
    assert (Path(program).name, arguments) == ("agentledger", ["run"])
    assert (service["KillSignal"], service["KillMode"]) == ("SIGTERM", "mixed")
    assert int(service["TimeoutStopSec"]) > STOPWAITSECS


def test_every_link_in_the_readme_and_docs_leads_to_a_file() -> None:
    """Relative links in README.md and docs/ name files that exist (anchors aside)."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    links = [(page, target) for page in pages
             for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text())]  # fmt: skip
    broken = [f"{page.relative_to(ROOT)} -> {target}" for page, target in links
              if "://" not in target and not (page.parent / target).exists()]  # fmt: skip
    assert broken == []


def test_every_make_target_is_documented() -> None:
    """Each target with a `##` help line in the Makefile is named in the README."""
    makefile = (Path(__file__).parents[2] / "Makefile").read_text()
    targets = re.findall(r"^([a-z]+):.*## ", makefile, re.MULTILINE)
    assert targets
    for target in targets:
        assert f"make {target}" in README or f"`make {target}`" in README, target
