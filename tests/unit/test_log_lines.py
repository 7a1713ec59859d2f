"""Services' log lines: JSON objects naming the service and the action, or text lines."""

from __future__ import annotations

import json
import logging
import logging.config
import uuid
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from agentledger.service_process import log_config
from agentledger.settings import Settings
from infra.telemetry.log_context import about_action

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """Logging as it was after each test."""
    handlers, level = logging.root.handlers[:], logging.root.level
    yield
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)


def test_json_lines_carry_the_service_and_the_action_being_worked_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Inside about_action a line has ``action_id``; outside it has none; both name the service."""
    logging.config.dictConfig(log_config("executor", Settings(log_format="json")))
    action = uuid.uuid4()
    with about_action(action):
        logging.getLogger("agentledger.executor").info("applied %s", "it")
    logging.getLogger("agentledger.executor").warning("idle")
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert (first["service"], first["action_id"], first["message"]) == (
        "executor", str(action), "applied it",
    )  # fmt: skip
    assert (second["level"], second["logger"], "action_id" in second) == (
        "WARNING", "agentledger.executor", False,
    )  # fmt: skip


def test_json_lines_logged_inside_a_span_carry_its_trace_and_span_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A line in a span names the trace (32 hex) and span (16 hex); one outside names none."""
    logging.config.dictConfig(log_config("decider", Settings(log_format="json")))
    span = TracerProvider().get_tracer("test").start_span("decide")
    with trace.use_span(span, end_on_exit=True):
        logging.getLogger("agentledger.decider").info("deciding")
    logging.getLogger("agentledger.decider").info("idle")
    inside, outside = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    context = span.get_span_context()
    assert (inside["trace_id"], inside["span_id"]) == (
        format(context.trace_id, "032x"), format(context.span_id, "016x"),
    )  # fmt: skip
    assert "trace_id" not in outside


def test_auto_is_json_when_stderr_is_no_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    """``auto`` gives JSON to a pipe or a file (pytest's capture); ``text`` names the service."""
    logging.config.dictConfig(log_config("decider", Settings(log_format="auto")))
    logging.getLogger("agentledger.decider").info("ready")
    assert json.loads(capsys.readouterr().err)["service"] == "decider"
    logging.config.dictConfig(log_config("decider", Settings(log_format="text")))
    logging.getLogger("agentledger.decider").info("ready")
    assert " decider agentledger.decider INFO ready" in capsys.readouterr().err
