"""The reconciler as a faust-streaming app over the co-partitioned action and observation topics.

One agent reads ``actions.v1``, ``observations.v1`` and ``reconciler-ticks.v1`` (all with
the same partition count, keyed by resource). Its table holds one state per resource
and per change feed; a timer puts a tick with the clock's time on each assigned
partition, so settle windows run out inside the stream, in order with the records.
With faust's exactly-once processing the table's changelog, the alerts on ``drift.v1``
and the input offsets commit in one Kafka transaction, and inputs are read committed.
The reconciler writes the changelog records itself (see ``changelog.py``); faust
restores the table from them.
"""

from __future__ import annotations

import logging
import os
import ssl
import sys
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import faust
from confluent_kafka import Producer
from faust.transport.consumer import TopicPartitionGroup, TransactionManager
from faust.types import TP

from consumers.reconciler.changelog import ChangelogWrites
from consumers.reconciler.heads import HeadGuard, KafkaHeads
from consumers.reconciler.lag import faust_lags
from consumers.reconciler.rules import Reconciler, Windows
from consumers.reconciler.step import Counters, Input, Outputs, Send, Step
from consumers.reconciler.verdicts import DriftRules
from infra.kafka_config import MECHANISM, KafkaAccess, client_config
from infra.partitioner import partition_for
from infra.provenance import RecordSigner
from infra.serde.topic_serde import TopicSerde
from infra.telemetry import trace_export
from infra.telemetry.lag import LagReport

log = logging.getLogger("agentledger.reconciler")

STATES_TABLE = "reconciler-states"


@dataclass(frozen=True)
class ReconcilerConfig:
    """Where the reconciler reads and writes, and how often it ticks."""

    app_id: str
    kafka: KafkaAccess
    partitions: int
    ticks_topic: str
    data_dir: Path
    tick_s: float = 1.0
    commit_interval_s: float = 0.5
    windows: Windows = field(default_factory=Windows)

    @property
    def changelog_topic(self) -> str:
        """The states table's changelog, named as faust names it."""
        return f"{self.app_id}-{STATES_TABLE}-changelog"

    @property
    def producer_linger_s(self) -> float:
        """How long a producer gathers records into one request: a fifth of the commit interval.

        Alerts and state changes become visible when their transaction commits, so waiting
        part of the interval costs no visibility; every produce request costs aiokafka CPU.
        At 10 ms, 1,000 edits/s on one 2-core machine built a backlog (alert p99 2.2-2.6 s
        in ``python -m bench reconciler``); at 100 ms, 0.8-1.3 s.
        """
        return self.commit_interval_s / 5


@dataclass(frozen=True)
class Serdes:
    """The topics the reconciler touches (full names are the serdes' topics)."""

    actions: TopicSerde
    observations: TopicSerde
    drift: TopicSerde
    deadletter: TopicSerde


def build_app(  # noqa: PLR0913  # the app joins its topics, rules, clock and signing key
    config: ReconcilerConfig,
    serdes: Serdes,
    rules: DriftRules,
    clock: Callable[[], datetime],
    *,
    signer: RecordSigner,
    counters: Counters | None = None,
) -> faust.App:
    """The faust app; run it with :func:`run`. Its alerts are signed by ``signer``."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        config.app_id, broker=f"kafka://{config.kafka.bootstrap}", store="memory://",
        broker_credentials=_credentials(config.kafka),
        processing_guarantee="exactly_once", web_enabled=False, datadir=str(config.data_dir),
        topic_partitions=config.partitions, topic_replication_factor=1,
        key_serializer="raw", value_serializer="raw", consumer_auto_offset_reset="earliest",
        producer_max_request_size=8 * 1024 * 1024,
        broker_session_timeout=10.0, broker_heartbeat_interval=2.0,
        producer_linger=config.producer_linger_s, producer_max_batch_size=262_144,
        broker_commit_interval=config.commit_interval_s,
    )  # fmt: skip
    sources = app.topic(
        serdes.actions.topic, serdes.observations.topic, config.ticks_topic,
        key_type=bytes, value_type=bytes, partitions=config.partitions,
    )  # fmt: skip
    # Keys and states are bytes: raw on the changelog, so a restart restores them as written
    # (faust's default JSON codec would bring bytes back as their repr strings).
    table = app.Table(STATES_TABLE, partitions=config.partitions, key_type=bytes, value_type=bytes)
    states = ChangelogWrites(cast("MutableMapping[bytes, bytes]", table.data))
    changelog = table.changelog_topic.get_topic_name()
    if changelog != config.changelog_topic:
        raise RuntimeError(f"faust names the changelog {changelog}, not {config.changelog_topic}")
    reconciler = Reconciler(
        states, rules, config.windows, lambda key: partition_for(key, config.partitions)
    )
    send = transactional_send(app)
    outputs = Outputs(serdes.drift, serdes.deadletter, send, signer)
    inputs = {
        serdes.actions.topic: ("actions.v1", serdes.actions),
        serdes.observations.topic: ("observations.v1", serdes.observations),
    }
    process = Step(
        reconciler, inputs, outputs, ticks_topic=config.ticks_topic,
        partitions=config.partitions, consumer=config.app_id, clock=clock,
        counters=counters or Counters(),
    )  # fmt: skip

    heads = HeadGuard(KafkaHeads(config.kafka, config.app_id), [config.ticks_topic])

    @app.agent(sources)
    async def reconcile(stream: faust.StreamT[Any]) -> None:
        async for event in cast("Any", stream).events():
            item = Input.of(event)
            for missed in heads.before(item):  # same partition: same table partition, producer
                await process(missed)
            await process(item)
            # The event is acked (its offset committable) when the loop asks for the next
            # one: by then its state changes must be in the open transaction. faust puts a
            # table's changelog records on the partition of the input that wrote them.
            source = (item.topic, item.partition)
            for key, state in states.drain():
                await send(changelog, key, state, item.partition, source)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # mode's handler type matches no def
    async def forget_revoked(_app: object, *args: set[TP], **_: object) -> None:
        (revoked,) = args  # faust sends the revoked partitions as the one argument
        reconciler.forget({tp.partition for tp in revoked})
        heads.forget({(tp.topic, tp.partition) for tp in revoked})

    # Ticks go through a producer of their own: a tick is a clock reading, not an effect.
    # In the partition's transaction it stayed invisible until an input on that partition
    # was committed; on a quiet partition nothing was, the broker aborted the open
    # transaction after its timeout and fenced the producer, silencing the partition. Not
    # faust's plain producer either: it gathers records for up to a fifth of the commit
    # interval, and a tick that waits delays every judgement it carries.
    ticker = Producer(client_config(config.kafka, {"linger.ms": 0}))

    lag = LagReport("reconciler", config.app_id)

    @app.timer(interval=config.tick_s)  # type: ignore[untyped-decorator]  # faust's decorator
    async def tick() -> None:
        now_ms, topic = str(int(clock().timestamp() * 1000)).encode(), config.ticks_topic
        for tp in app.consumer.assignment():
            if tp.topic == serdes.actions.topic:
                ticker.produce(topic, now_ms, b"tick", partition=tp.partition)
        ticker.poll(0)  # serves delivery reports; a lost tick is made up by the next one
        _report(lag, app.consumer)  # after the ticks: a metric must never cost a judgement

    del reconcile, tick, forget_revoked  # registered on the app by their decorators
    return app


def _report(lag: LagReport, consumer: object) -> None:
    """The reconciler's lag, if it can be read (faust's internals may move)."""
    try:
        lag.report_due(lambda: faust_lags(consumer))
    except Exception:  # no lag then; the ticks go on
        log.warning("reconciler lag not reported", exc_info=True)


def transactional_send(app: faust.App) -> Send:
    """Send through the transactional producer of the input partition being processed.

    faust's transaction manager picks the producer from the *destination* topic's
    partition, looked up in the consumer's metadata and topic groups: a topic the app
    does not read (drift.v1, the dead letters) is in neither, so faust hands its records
    to the plain producer, outside the transaction that commits the input's offset and
    the state change. A kill -9 between that commit and the plain producer's send lost
    the alert for good. The transactional id here is the one faust commits the input
    partition's offsets under (formatted once per input partition and topic group).
    """
    producer = app.producer
    ids: dict[tuple[str, int, int], str] = {}

    async def send(  # noqa: PLR0913  # Send's signature
        topic: str,
        key: bytes | None,
        value: bytes,
        partition: int,
        source: tuple[str, int],
        *,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> object:
        source_topic, source_partition = source
        slot = (source_topic, source_partition, app.assignor.group_for_topic(source_topic))
        transactional_id = ids.get(slot)
        if transactional_id is None:
            transactional_id = ids[slot] = TransactionManager.transactional_id_format.format(
                group_id=app.conf.id, tpg=TopicPartitionGroup(*slot)
            )
        return await producer.send(
            topic, key, value, partition, None, headers, transactional_id=transactional_id
        )

    return send


def _credentials(kafka: KafkaAccess) -> faust.SASLCredentials:
    """Faust's (aiokafka's) form of ``kafka``'s credential."""
    tls = ssl.create_default_context() if kafka.protocol == "SASL_SSL" else None
    return faust.SASLCredentials(
        username=kafka.username, password=kafka.password, mechanism=MECHANISM, ssl_context=tls
    )


def run(
    app: faust.App, loglevel: str = "info", logging_config: dict[str, Any] | None = None
) -> None:
    """Run the app's worker until it is told to stop (SIGINT/SIGTERM); logs as configured."""
    worker = faust.Worker(
        app, loglevel=loglevel, quiet=True, redirect_stdouts=False, logging_config=logging_config
    )
    code = 1
    try:
        worker.execute_from_commandline()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else 1
    finally:
        # faust has stopped and committed by now, but its consumer thread is not a daemon
        # and keeps the interpreter alive: leave without waiting for it.
        trace_export.flush()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
