"""`agentledger run`'s supervisor configuration: the chosen services, restarts, one endpoint."""

from __future__ import annotations

import configparser
import os
from pathlib import Path

import pytest

from agentledger.settings import Settings
from agentledger.supervision import (
    ENDPOINT,
    GROUP,
    SERVICES,
    STARTRETRIES,
    RunLocked,
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
    assert config[f"group:{GROUP}"]["programs"] == f"decider,api,{ENDPOINT}"
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
    """Supervisord expands ``%(x)s``, splits environments on commas; `` ;``, `` #`` comment."""
    text = supervisor_config(["relay"], tmp_path / "100%", Path("/bin/agentledger"))
    assert "100%%" in text
    for bad in ("a,b", "a ;b", "a #b"):
        with pytest.raises(ValueError, match="choose another run_dir"):
            supervisor_config(["relay"], tmp_path / bad, Path("/bin/agentledger"))


def test_prepare_refuses_a_second_run_in_the_same_directory(tmp_path: Path) -> None:
    """While a run holds the directory's lock, another is refused before touching anything."""
    settings = Settings(run_dir=tmp_path)
    _, lock = prepare(settings, ["relay"])
    (tmp_path / "metrics" / "counter_1.db").write_bytes(b"the first run's")
    try:
        with pytest.raises(RunLocked, match="already running here"):
            prepare(settings, ["decider"])
        assert (tmp_path / "metrics" / "counter_1.db").exists()
        assert "program:relay" in (tmp_path / "supervisord.conf").read_text()
    finally:
        os.close(lock)
    _, again = prepare(settings, ["decider"])  # the lock went with the first run
    os.close(again)


def test_prepare_starts_with_fresh_metrics_and_a_private_configuration(tmp_path: Path) -> None:
    """Counters of an earlier run are gone; the directory and configuration are private."""
    where = tmp_path / "run"
    where.mkdir(mode=0o777)
    where.chmod(0o777)
    (where / "metrics").mkdir()
    (where / "metrics" / "counter_1.db").write_bytes(b"old")
    conf, lock = prepare(Settings(run_dir=where), ["relay"])
    os.close(lock)
    assert not list((where / "metrics").iterdir())
    assert conf.stat().st_mode & 0o777 == 0o600
    assert where.stat().st_mode & 0o777 == 0o700


def test_planted_links_are_replaced_or_refused_never_written_through(tmp_path: Path) -> None:
    """Links planted in the run directory are replaced, not followed; a linked one is refused."""
    where, victim, elsewhere = tmp_path / "run", tmp_path / "victim", tmp_path / "elsewhere"
    where.mkdir()
    victim.write_text("precious")
    elsewhere.mkdir()
    (where / "supervisord.conf").symlink_to(victim)
    (where / "metrics").symlink_to(elsewhere)
    conf, lock = prepare(Settings(run_dir=where), ["relay"])
    os.close(lock)
    assert victim.read_text() == "precious"
    assert not conf.is_symlink()
    assert not (where / "metrics").is_symlink()
    assert elsewhere.exists()
    linked = tmp_path / "linked"
    linked.symlink_to(where)
    with pytest.raises(RunLocked, match="symbolic link"):
        prepare(Settings(run_dir=linked), ["relay"])


def test_supervisord_itself_reads_the_configuration_as_meant(tmp_path: Path) -> None:
    """Supervisord's own parser: a ``%`` in a path stays a ``%``; programs form one group."""
    from supervisor.options import ServerOptions  # noqa: PLC0415  # only this test parses

    where = tmp_path / "100%"
    where.mkdir()
    conf, lock = prepare(Settings(run_dir=where), ["relay", "api"])
    os.close(lock)
    options = ServerOptions()
    options.realize(args=["-c", str(conf)])
    (group,) = options.process_group_configs
    assert group.name == GROUP
    commands = {program.name: program.command for program in group.process_configs}
    assert commands["relay"].endswith("agentledger relay")
    assert commands[ENDPOINT].endswith("agentledger run-endpoint relay api")
    environment = group.process_configs[0].environment
    assert environment["PROMETHEUS_MULTIPROC_DIR"] == str(where / "metrics")


def test_a_refused_configuration_leaves_no_file_and_no_lock(tmp_path: Path) -> None:
    """A path supervisord cannot take fails before any file is written, and frees the lock."""
    where = tmp_path / "bad;dir"
    for _ in range(2):  # the second try is refused for the path again, not as "running"
        with pytest.raises(ValueError, match="choose another run_dir"):
            prepare(Settings(run_dir=where), ["relay"])
    assert sorted(p.name for p in where.iterdir()) == ["metrics", "run.lock"]
