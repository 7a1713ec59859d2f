"""kill -9 a decider or the active executor: its partitions are worked again within 10 s."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from confluent_kafka.admin import AdminClient

from agentledger.bootstrap import relay
from agentledger.processes import CLI, settings_env
from agentledger.settings import Settings
from domain.action_state import Status
from domain.events.decisions import DecisionOutcome
from infra.ledger.ledger import Ledger
from infra.partitioner import partition_for
from tests.db_helpers import admin_url
from tests.decider_helpers import produce, proposal, register
from tests.execution_helpers import agent, decide, resource
from tests.kafka_helpers import as_operator
from tests.service_helpers import wait_status

pytestmark = pytest.mark.chaos

TAKEOVER_S = 10.0


@contextmanager
def _services(
    settings: Settings, name: str, count: int, logs: Path, env: dict[str, str] | None = None
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` processes of the service ``name``, stopped at the end if still running."""
    started = []
    for index in range(count):
        with (logs / f"{name}-{index}.log").open("ab") as out:
            started.append(subprocess.Popen(
                [str(CLI), name], env=settings_env(settings) | (env or {}), stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            ))  # fmt: skip
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def _members_with_partitions(settings: Settings, group: str) -> int:
    admin = AdminClient({**as_operator(settings)})
    (future,) = admin.describe_consumer_groups([group], request_timeout=10).values()
    described = future.result()
    return sum(1 for m in described.members if m.assignment.topic_partitions)


def _wait_members(settings: Settings, group: str, count: int, logs: Path) -> None:
    deadline = time.monotonic() + 90
    while _members_with_partitions(settings, group) < count:
        assert time.monotonic() < deadline, f"{group} never had {count} members; see {logs}"
        time.sleep(0.5)


def _decided(settings: Settings) -> int:
    with psycopg.connect(admin_url(settings)) as conn:
        row = conn.execute(f"SELECT count(*) FROM {settings.ledger_name.lower()}_decisions")
        return int(row.fetchone()[0])  # type: ignore[index]  # count(*) returns one row


def _one_proposal_per_partition(settings: Settings, agent_id: str) -> int:
    """Produce a proposal on every partition of ``proposals.v1``; how many."""
    keys: dict[int, str] = {}
    index = 0
    while len(keys) < settings.partitions:
        key = f"crm/contact/takeover-{index}"
        keys.setdefault(partition_for(key.encode(), settings.partitions), key)
        index += 1
    produce(settings, (
        proposal(agent_id, f"k-{time.monotonic_ns()}-{p}", resource=dict(zip(
            ("system", "type", "id"), key.split("/"), strict=True)))
        for p, key in keys.items()
    ))  # fmt: skip
    return len(keys)


def _seconds_until_decided(settings: Settings, wanted: int, since: float) -> float:
    while _decided(settings) < wanted:
        assert time.monotonic() - since < 60, "nothing was decided for a minute"
        time.sleep(0.1)
    return time.monotonic() - since


@pytest.mark.parametrize("how", ["second_instance", "restart", "restart_named"])
def test_the_partitions_of_a_killed_decider_are_decided_again_within_10_s(
    isolated: Settings, own_ledger: Ledger, tmp_path: Path, how: str
) -> None:
    """After kill -9 of a decider, the other instance or the restarted one (named or not) decides every partition within 10 s."""
    register(own_ledger, "takeover-agent")
    group = f"{isolated.topic_prefix}decider"
    named = {"AGENTLEDGER_INSTANCE_ID": "decider-a"} if how == "restart_named" else {}
    count = 2 if how == "second_instance" else 1
    with _services(isolated, "decider", count, tmp_path, named) as procs:
        _wait_members(isolated, group, len(procs), tmp_path)
        before = _decided(isolated)
        killed_at = time.monotonic()
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        if how != "second_instance":
            with _services(isolated, "decider", 1, tmp_path, named):
                sent = _one_proposal_per_partition(isolated, "takeover-agent")
                took = _seconds_until_decided(isolated, before + sent, killed_at)
        else:
            sent = _one_proposal_per_partition(isolated, "takeover-agent")
            took = _seconds_until_decided(isolated, before + sent, killed_at)
    print(f"decider takeover ({how}): {took:.1f} s after kill -9")  # noqa: T201  # the measure
    assert took < TAKEOVER_S, f"took {took:.1f} s; see {tmp_path}"


def test_a_standby_executor_executes_within_10_s_of_the_active_ones_kill(
    isolated: Settings, own_ledger: Ledger, tmp_path: Path
) -> None:
    """After kill -9 of the active executor, the standby takes the lock and partitions and executes within 10 s."""
    stop = threading.Event()
    the_relay = relay(isolated, own_ledger)
    relaying = threading.Thread(target=the_relay.run, args=(stop,), daemon=True)
    relaying.start()
    owner = agent(own_ledger)
    try:
        assert the_relay.active.wait(60), "relay did not become active"
        with _services(isolated, "executor", 1, tmp_path) as (active,):
            warm = decide(own_ledger, owner, resource("crm", "contact"),
                          outcome=DecisionOutcome.ALLOW)  # fmt: skip
            wait_status(own_ledger, warm, Status.APPLIED)
            with _services(isolated, "executor", 1, tmp_path):
                time.sleep(2)  # the standby is waiting on the lock
                killed_at = time.monotonic()
                active.send_signal(signal.SIGKILL)
                active.wait(10)
                actions = [decide(own_ledger, owner, resource(system, "contact"),
                                  outcome=DecisionOutcome.ALLOW)
                           for system in ("crm", "billing", "crm", "billing")]  # fmt: skip
                for aid in actions:
                    wait_status(own_ledger, aid, Status.APPLIED, timeout_s=60)
                took = time.monotonic() - killed_at
    finally:
        stop.set()
        relaying.join(60)
    print(f"executor takeover: {took:.1f} s after kill -9")  # noqa: T201  # the measure
    assert took < TAKEOVER_S, f"took {took:.1f} s; see {tmp_path}"
