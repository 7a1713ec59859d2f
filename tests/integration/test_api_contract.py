"""The live API against its own OpenAPI document, fuzzed by schemathesis with each role's token.

Every operation, with no token, an agent's and an approver's: no server error, and no
status, content type, header or body that the document does not state.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentledger.api.server import ApiServer
from agentledger.bootstrap import ledger
from agentledger.services import running
from agentledger.settings import ApproverEntry, Settings
from infra.connectors.registry import Connectors
from tests.decider_helpers import register
from tests.execution_helpers import agent, decide, resource

pytestmark = pytest.mark.integration
CHECKS = [
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_headers_conformance", "response_schema_conformance",
]  # fmt: skip
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
TOKENS = {role: secrets.token_urlsafe(16) for role in ("agent", "approver")}
"""Made for this run: the fuzzer's credentials are never written down anywhere."""


@pytest.fixture
def live_api(isolated: Settings, systems: Connectors) -> Iterator[Settings]:
    """The API served over HTTP on the isolated ledger, and the document it serves."""
    served = isolated.model_copy(update={
        "approvers": {TOKENS["approver"]: ApproverEntry(name="fuzz", roles=["security"])},
        "agent_tokens": {TOKENS["agent"]: "fuzz-agent"},
        "api_failed_logins": "100000/minute",  # the fuzzer's 401s must not lock it out
    })  # fmt: skip
    the_ledger = ledger(served)
    register(the_ledger, "fuzz-agent", scopes=["*"])
    decide(the_ledger, agent(the_ledger), resource("crm", "contact"))  # a queue that is not empty
    api = ApiServer(served, the_ledger, systems)
    try:
        with running([("the API", api.run, api.ready)]):
            yield served
    finally:
        the_ledger.close()


@pytest.mark.parametrize("role", [None, "agent", "approver"])
def test_every_answer_is_one_the_document_states(
    live_api: Settings, role: str | None, tmp_path: Path
) -> None:
    """`schemathesis run`, every operation: no 5xx, and every answer documented for it.

    Status, content type, headers and body are each checked against the document.

    The token reaches schemathesis through its environment, named in its config file; a
    command-line header would show in `ps`.
    """
    config = tmp_path / "schemathesis.toml"
    header = 'headers = { Authorization = "Bearer ${AGENTLEDGER_FUZZ_TOKEN}" }\n'
    config.write_text(header if role else "")
    env = {**os.environ, "AGENTLEDGER_FUZZ_TOKEN": TOKENS[role]} if role else dict(os.environ)
    done = subprocess.run(
        [str(SCHEMATHESIS), "--config-file", str(config), "run",
         f"{live_api.api}/openapi.json", "--checks", ",".join(CHECKS), "--max-examples", "25",
         "--seed", "1", "--no-color", "--generation-database", "none",
         "--report-dir", str(tmp_path / "report")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-5000:]
