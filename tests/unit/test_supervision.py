"""`agentledger run`'s supervisor configuration: the chosen services, restarts, one endpoint."""

from __future__ import annotations

import configparser
import os
from pathlib import Path

import pytest

from agentledger.settings import Settings
from agentledger.supervision import (
    ENDPOINT,
    SERVICES,
    STARTRETRIES,
    UnknownService,
    chosen,
    prepare,
    supervisor_config,
)

pytestmark = pytest.mark.unit


def _parsed(text: str) -> configparser.ConfigParser:
    config = configparser.ConfigParser(interpolation=None)
    config.read_string(text)
    return config


def test_no_names_means_every_service_and_names_keep_start_order() -> None:
    """Without names every service runs; named ones run in the order they start in."""
    assert chosen([]) == list(SERVICES)
    assert chosen(["api", "relay", "decider"]) == ["relay", "decider", "api"]


def test_an_unknown_service_is_refused_with_the_known_ones_named() -> None:
    """A typo is an error that lists the choices, not a child that never starts."""
    with pytest.raises(UnknownService, match=r"unknown service.*deciders.*choose from relay"):
        chosen(["deciders"])


def test_each_service_is_a_restarted_program_sharing_the_metrics_directory(tmp_path: Path) -> None:
    """One program per service plus the endpoint; each restarts, logs to stdout, stops as a group."""
    config = _parsed(supervisor_config(["decider", "api"], tmp_path, Path("/opt/al/agentledger")))
    programs = [s.removeprefix("program:") for s in config.sections() if s.startswith("program:")]
    assert programs == ["decider", "api", ENDPOINT]
    decider = config["program:decider"]
    assert decider["command"] == "/opt/al/agentledger decider"
    assert decider["autorestart"] == "true"
    assert int(decider["startretries"]) == STARTRETRIES
    assert decider["stopasgroup"] == decider["killasgroup"] == "true"
    assert decider["stdout_logfile"] == "/dev/stdout"
    assert f'PROMETHEUS_MULTIPROC_DIR="{tmp_path / "metrics"}"' in decider["environment"]
    assert 'AGENTLEDGER_METRICS_PORT="0"' in decider["environment"]
    assert 'AGENTLEDGER_LOG_FORMAT="json"' in decider["environment"]
    assert (
        config[f"program:{ENDPOINT}"]["command"] == "/opt/al/agentledger run-endpoint decider api"
    )
    assert config["unix_http_server"]["chmod"] == "0700"
    assert "password" not in config["unix_http_server"]


def test_a_percent_in_a_path_is_not_expanded_and_a_comma_is_refused(tmp_path: Path) -> None:
    """Supervisord expands ``%(x)s`` in values and splits environments on commas."""
    text = supervisor_config(["relay"], tmp_path / "100%", Path("/bin/agentledger"))
    assert "100%%" in text
    with pytest.raises(ValueError, match="choose another run_dir"):
        supervisor_config(["relay"], tmp_path / "a,b", Path("/bin/agentledger"))


def test_prepare_refuses_a_second_run_in_the_same_directory(tmp_path: Path) -> None:
    """While a run's supervisord lives (its pid file), another one would take its socket."""
    settings = Settings(run_dir=tmp_path)
    (tmp_path / "supervisord.pid").write_text(str(os.getpid()))
    with pytest.raises(RuntimeError, match="already running"):
        prepare(settings, ["relay"])


def test_prepare_starts_with_fresh_metrics_and_a_private_configuration(tmp_path: Path) -> None:
    """Counters of an earlier run are gone; the configuration is readable by its owner only."""
    settings = Settings(run_dir=tmp_path)
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "counter_1.db").write_bytes(b"old")
    (tmp_path / "supervisord.pid").write_text("999999999")  # a run that is gone
    conf = prepare(settings, ["relay"])
    assert not list((tmp_path / "metrics").iterdir())
    assert conf.stat().st_mode & 0o777 == 0o600
