"""The README's SDK example, run as written against the real stack."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from agentledger.bootstrap import enroll_agent
from agentledger.settings import Settings
from infra.ledger.ledger import Ledger
from tests.decider_helpers import register, running

pytestmark = pytest.mark.integration
README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_sdk_example_proposes_and_prints_the_decision(
    isolated: Settings, own_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example block after `<!-- sdk-example -->` runs unchanged and prints an outcome and reason codes."""
    block = re.search(r"<!-- sdk-example -->\n```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert block is not None, "README lost its SDK example"
    monkeypatch.setenv("AGENTLEDGER_TOPIC_PREFIX", isolated.topic_prefix)
    monkeypatch.setenv("AGENTLEDGER_LEDGER_NAME", isolated.ledger_name)
    monkeypatch.setenv("AGENTLEDGER_API_PORT", str(isolated.api_port))
    register(own_ledger, "billing-bot", scopes=["crm:*"], budget=500)
    enroll_agent(isolated, "billing-bot")  # its Kafka user and token, as `agent register` makes
    printed = io.StringIO()
    with running(isolated, own_ledger), contextlib.redirect_stdout(printed):
        exec(compile(block.group(1), "README.md", "exec"), {})  # noqa: S102  # the documented example
    outcome, codes = printed.getvalue().strip().split(" ", 1)
    assert outcome == "require_approval"  # first contact with crm/contact/42
    assert "first_contact" in codes
