"""The composition root: the one place that reads settings and builds the object graph."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from uuid import UUID, uuid4

import faust
import psycopg
from confluent_kafka.schema_registry import SchemaRegistryClient
from psycopg.conninfo import make_conninfo

from agentledger.approvals import ApprovalDesk, Approver
from agentledger.credentials import (
    AGENT_TOKEN_PREFIX,
    admin_database_url,
    database_url,
    deployment_secrets,
    kafka_access,
    require_login,
    systems_database_url,
)
from agentledger.oidc import OidcConfig, OidcVerifier
from agentledger.seal_key import ledger_seal
from agentledger.settings import REPO_ROOT, Settings
from agentledger.signing_keys import attesters, record_signer, service_key, topic_owner
from consumers.decider.bundle_watch import BundleWatch
from consumers.decider.decider import Decider, DeciderConfig
from consumers.decider.service import DeciderService, ServiceConfig
from consumers.executor.compensations import CompensationForwarder
from consumers.executor.executor import Executor, ExecutorConfig
from consumers.executor.failpoints import failpoint
from consumers.executor.service import ExecutorService, ExecutorServiceConfig
from consumers.expirer.expirer import Expirer
from consumers.observer.observer import Observer, ObserverConfig
from consumers.observer.positions import ObserverPositions
from consumers.projector.service import Projector, ProjectorConfig
from consumers.reconciler.app import ReconcilerConfig, build_app
from consumers.reconciler.app import Serdes as ReconcilerSerdes
from consumers.reconciler.rules import Windows
from consumers.reconciler.step import Counters
from consumers.reconciler.verdicts import DriftRules
from consumers.relay.checkpoint_writer import CheckpointWriter
from consumers.relay.lock import RelayLock
from consumers.relay.position import PositionStore
from consumers.relay.relay import Relay, RelayConfig
from consumers.relay.wakeup import StoreWakeup
from consumers.runtime.dead_letters import DeadLetterSink
from domain.context import CommandContext
from domain.signing import as_service
from infra.audit import AuditResult
from infra.audit.checkpoint_reader import latest_checkpoint
from infra.audit.copies import relayed_copies
from infra.audit.store import audit_store as store_audit
from infra.audit.topic import audit_topic as topic_audit
from infra.checkpoints import TOPIC as CHECKPOINTS
from infra.connectors.http_crm import HttpCrm
from infra.connectors.postgres_sor import PostgresSystemOfRecord
from infra.connectors.registry import Connectors
from infra.database_roles import REGISTRY, VIEW_MEMBERS, VIEWS, VIEWS_SCHEMA
from infra.kafka_acls import OPERATOR
from infra.kafka_config import KafkaAccess
from infra.ledger.ledger import Ledger, postgres_env
from infra.ledger.recorder import LedgerRecorder
from infra.policy.bundle import Bundle, load_bundle
from infra.policy.engine import PolicyEngine
from infra.policy.records import DecisionRecords
from infra.proposal_sink import ProposalSink
from infra.provenance import RecordSigner
from infra.serde.catalog import Catalog
from infra.serde.deadletter import DeadLetter
from infra.serde.registrar import Registrar, authenticated_http
from infra.serde.topic_serde import TopicSerde
from infra.stack import ledger_tables, principals
from infra.stack.config import StackConfig
from infra.stack.downloads import Report
from infra.stack.kafka import admin
from infra.stack.registry_gate import OPERATOR_ENTRY
from infra.stack.stack import Stack, UpResult
from infra.stack.topics import ensure_topics
from infra.topics import RELAYED, topic_spec
from projections.actual import ActualReader
from projections.registry import projections
from projections.replay import Rebuilt, rebuild
from projections.store import ProjectionStore

SCHEMAS_DIR = REPO_ROOT / "schemas"
log = logging.getLogger("agentledger")


def stack_config(settings: Settings) -> StackConfig:
    """The local stack's view of the settings, addresses resolved."""
    return StackConfig(
        state_dir=settings.state_dir.resolve(),
        cache_dir=settings.cache_dir.resolve(),
        kafka=kafka_access(settings, OPERATOR),
        kafka_local=not settings.kafka_external,
        kafka_port=settings.kafka_port,
        kafka_controller_port=settings.kafka_controller_port,
        kafka_version=settings.kafka_version,
        kafka_heap=settings.kafka_heap,
        registry_url=settings.registry,
        registry_local=not settings.registry_external,
        registry_port=settings.registry_port,
        registry_backend_port=settings.registry_backend_port,
        apicurio_version=settings.apicurio_version,
        registry_heap=settings.registry_heap,
        database_url=database_url(settings, OPERATOR, generate=True),
        registry_database_url=database_url(settings, REGISTRY, generate=True),
        database_local=not settings.database_external,
        postgres_port=settings.postgres_port,
        systems_database_url=systems_database_url(settings, generate=True),
        systems_database_local=not settings.database_external
        and settings.systems_database_url is None,
        crm_url=settings.crm,
        crm_local=settings.crm_url is None,
        crm_port=settings.crm_port,
        topic_prefix=settings.topic_prefix,
        partitions=settings.partitions,
        start_timeout_s=settings.start_timeout_s,
    )


def build_stack(settings: Settings, report: Report) -> Stack:
    """The local stack for ``settings``; ``report`` receives progress lines."""
    return Stack(stack_config(settings), report)


def deploy(settings: Settings, report: Report) -> tuple[UpResult, dict[str, int]]:
    """Bring the stack up (topics included), make the ledger's tables, register every contract."""
    result = build_stack(settings, report).up()
    ensure_ledger_tables(settings)
    return result, registrar(settings).register(catalog())


def provision(settings: Settings) -> list[str]:
    """Create the topics and tables of ``settings``' deployment; give each service its rights."""
    client = admin(kafka_access(settings, OPERATOR))
    created = ensure_topics(client, settings.topic_prefix, settings.partitions)
    principals.ensure_services(client, deployment_secrets(settings), settings.topic_prefix)
    ensure_ledger_tables(settings)
    return created


def ensure_ledger_tables(settings: Settings) -> None:
    """The event store and side tables of the ledger in effect (an external role makes its own)."""
    if settings.database_external:
        return
    with psycopg.connect(admin_database_url(settings), autocommit=True) as conn:
        ledger_tables.ensure_ledger(conn, settings.ledger_name)


def unprovision(settings: Settings) -> None:
    """Withdraw every right of ``settings``' deployment and drop its tables (topics are dropped)."""
    principals.revoke_prefix(admin(kafka_access(settings, OPERATOR)), settings.topic_prefix)
    url = (
        database_url(settings, OPERATOR)
        if settings.database_external
        else admin_database_url(settings)
    )
    with psycopg.connect(url, autocommit=True) as conn:
        ledger_tables.drop_ledger(conn, settings.ledger_name)


def connectors(settings: Settings) -> Connectors:
    """The connectors to the systems of record in effect: ``billing`` and ``crm``.

    Nothing connects until first use; close them with :meth:`Connectors.close`.
    """
    billing = PostgresSystemOfRecord(systems_database_url(settings))
    return Connectors([billing, HttpCrm(settings.crm)])


@cache
def catalog() -> Catalog:
    """The event contracts in ``schemas/``, loaded and compiled once per process."""
    return Catalog(SCHEMAS_DIR)


def registry_client(settings: Settings) -> SchemaRegistryClient:
    """A Confluent-API registry client for the registry in effect, reading anonymously."""
    return SchemaRegistryClient({"url": settings.registry})


def registrar(settings: Settings) -> Registrar:
    """Registers and inspects the contracts, as the registry's operator if a password is known.

    The password is ``registry_password``, else the one the local stack generated; without
    one, the registry refuses changes (:class:`WritesRefused` names the setting).
    """
    secrets = None if settings.registry_external else deployment_secrets(settings)
    password = (
        settings.registry_password.get_secret_value() if settings.registry_password
        else secrets.find(OPERATOR_ENTRY) if secrets else None
    )  # fmt: skip
    if password is None:
        return Registrar(registry_client(settings), settings.registry)
    user = settings.registry_username
    client = SchemaRegistryClient(
        {"url": settings.registry, "basic.auth.user.info": f"{user}:{password}"}
    )
    return Registrar(client, settings.registry, authenticated_http(user, password))


def enroll_agent(settings: Settings, agent_id: str) -> tuple[KafkaAccess, str]:
    """Give agent ``agent_id`` its own Kafka user, rights and API token (idempotent).

    Returns its Kafka credential and its API token, both kept in the deployment secrets.
    """
    secrets = deployment_secrets(settings)
    user = principals.enroll_agent(
        admin(kafka_access(settings, OPERATOR)), secrets, settings.topic_prefix, agent_id
    )
    token = secrets.get(AGENT_TOKEN_PREFIX + agent_id)
    return kafka_access(settings, user), token


def topic_serdes(settings: Settings, *names: str) -> dict[str, TopicSerde]:
    """One serde per named topic (e.g. ``"actions.v1"``).

    Raises :class:`ContractsMissing` if a contract of theirs is not registered: that is a
    deployment step (:func:`deploy`), never something a service does as it starts.
    """
    client = registry_client(settings)
    contracts = catalog()
    specs = [topic_spec(name) for name in names]
    used = {record: contracts[record] for spec in specs for record in spec.records}
    Registrar(client, settings.registry).require(used.values())
    serdes = {}
    for name, spec in zip(names, specs, strict=True):
        records = [contracts[record] for record in spec.records]
        limit = spec.max_bytes or settings.max_record_bytes
        owner = topic_owner(settings, spec)
        serdes[name] = TopicSerde(settings.topic(name), records, client, limit, owner)
    return serdes


def ledger(settings: Settings, role: str = OPERATOR) -> Ledger:
    """The ledger on the database in effect, as ``role`` (its tables are made at deployment)."""
    pool = max(5, settings.executor_workers + 2)  # executor lanes each hold a connection
    url = database_url(settings, role)
    require_login(settings, url)
    env = postgres_env(url, pool, create_tables=settings.database_external)
    return Ledger(env, catalog(), settings.ledger_name, seal=ledger_seal(settings))


def system_context(correlation_id: UUID | None = None) -> CommandContext:
    """A command context on the wall clock with random ids (the production clock)."""
    return CommandContext(
        now=datetime.now(UTC), new_id=uuid4, correlation_id=correlation_id or uuid4()
    )


def relay(settings: Settings, the_ledger: Ledger | None = None) -> Relay:
    """The relay for the ledger in effect (every contract must be registered)."""
    the_ledger = the_ledger or ledger(settings, "relay")
    ids = registrar(settings).require(catalog())
    transcoder = the_ledger.transcoder

    def schema_id(print_: str) -> int:
        return ids[transcoder.contract_for(print_).fullname]

    config = RelayConfig(
        kafka=kafka_access(settings, "relay"), topic_prefix=settings.topic_prefix,
        partitions=settings.partitions,
        transactional_id=f"{settings.topic_prefix}relay.{the_ledger.name}",
        max_record_bytes=settings.max_record_bytes,
    )  # fmt: skip
    signer = record_signer(settings, "relay")
    positions = relay_positions(settings, the_ledger.name, signer)
    lock = RelayLock(database_url(settings, "relay"), the_ledger.name)
    wakeup = StoreWakeup(database_url(settings, "relay"), the_ledger.recorder.channel_name)  # type: ignore[attr-defined]  # the PostgreSQL recorder
    letters = topic_serdes(settings, "deadletter.v1")["deadletter.v1"]
    checkpoints = CheckpointWriter(
        settings.topic(CHECKPOINTS), the_ledger.name, signer,
        export_dir=settings.checkpoints(), interval_s=settings.checkpoint_interval_s,
        clock=wall_clock,
    )  # fmt: skip
    return Relay(
        the_ledger, config, schema_id, positions, lock, letters=letters, signer=signer,
        checkpoints=checkpoints, clock=wall_clock, wakeup=wakeup,
    )  # fmt: skip


def relay_positions(
    settings: Settings, ledger_name: str, signer: RecordSigner | None = None
) -> PositionStore:
    """The relay's positions of ledger ``ledger_name`` (signed by ``signer`` when written)."""
    owner = topic_owner(settings, topic_spec("relay-positions.v1"))
    if owner is None:
        raise RuntimeError("relay-positions.v1 has no owner in the topic table")
    return PositionStore(kafka_access(settings, "relay"), owner, ledger_name, signer=signer)


def relay_lag(settings: Settings, the_ledger: Ledger) -> int:
    """Notifications in the store not yet committed to Kafka by the relay."""
    positions = relay_positions(settings, the_ledger.name)
    return (the_ledger.recorder.max_notification_id() or 0) - positions.load().notification_id


def audit_store(settings: Settings) -> AuditResult:
    """Verify the event store: its chains, the relay's signed copies, its latest checkpoint."""
    the_ledger, kafka = ledger(settings), kafka_access(settings, OPERATOR)
    owner = topic_owner(settings, topic_spec(CHECKPOINTS))
    if owner is None:
        raise RuntimeError(f"{CHECKPOINTS} has no owner in the topic table")
    checkpoint, forged = latest_checkpoint(
        kafka, settings.topic(CHECKPOINTS), owner, settings.checkpoints(), the_ledger.name
    )
    relayed = {settings.topic(name): topic_owner(settings, topic_spec(name)) for name in RELAYED}
    copies = relayed_copies(kafka, {topic: owner for topic, owner in relayed.items() if owner})
    try:
        result = store_audit(the_ledger, checkpoint=checkpoint, copies=copies,
                             max_record_bytes=settings.max_record_bytes)  # fmt: skip
    finally:
        the_ledger.close()
    basis = (
        f"the relay's {len(copies)} signed copies and its checkpoint of {checkpoint.at}"
        f" (notification {checkpoint.notification_id})" if checkpoint
        else f"the relay's {len(copies)} signed copies (no checkpoint yet)"
    )  # fmt: skip
    return AuditResult(result.checked, forged + result.findings, basis)


def audit_topic(settings: Settings, topic: str) -> AuditResult:
    """Verify a topic's chains (``topic`` with or without the prefix)."""
    name = topic if topic.startswith(settings.topic_prefix) else settings.topic(topic)
    try:
        owner = topic_owner(settings, topic_spec(name.removeprefix(settings.topic_prefix)))
    except KeyError:  # not a topic of ours (a copy, say): its chains only
        owner = None
    return topic_audit(kafka_access(settings, OPERATOR), name, owner)


_ENGINES: dict[str, PolicyEngine] = {}


def policy_engine(bundle: Bundle) -> PolicyEngine:
    """``bundle`` compiled, once per digest per process (engines are not thread-safe)."""
    engine = _ENGINES.get(bundle.digest)
    if engine is None:
        engine = PolicyEngine(bundle)
        _ = engine.catalog  # BundleError: no action catalog, or one that does not hold together
        _ENGINES[bundle.digest] = engine
    return engine


def decider(settings: Settings, the_ledger: Ledger | None = None) -> Decider:
    """The decider on the ledger in effect, with the active (and shadow) bundle compiled."""
    the_ledger = the_ledger or ledger(settings, "decider")
    serdes = topic_serdes(settings, "proposals.v1", "deadletter.v1")
    shadow = settings.shadow_bundle
    return Decider(
        the_ledger, serdes["proposals.v1"], policy_engine(load_bundle(settings.policy_bundle)),
        shadow=policy_engine(load_bundle(shadow)) if shadow else None,
        clock=lambda: datetime.now(UTC), new_id=uuid4,
        dead_letter=DeadLetterSink(kafka_access(settings, "decider"), serdes["deadletter.v1"]),
        config=DeciderConfig(
            consumer=f"decider:{settings.topic('proposals.v1')}",
            history_limit=settings.policy_history_limit, attesters=attesters(settings),
        ),
        actual=actual_reader(settings),
    )  # fmt: skip


def actual_reader(settings: Settings) -> ActualReader:
    """Reads of the actual-state view (what the systems were last seen to show)."""
    store = projection_store(settings, "decider")
    return ActualReader(store.url, store.prefix)


def decider_service(settings: Settings, the_ledger: Ledger | None = None) -> DeciderService:
    """The decider as a consumer group member, reloading its bundle when it changes."""
    the_decider = decider(settings, the_ledger)
    the_decider.publish_bundle()

    config = ServiceConfig(
        kafka=kafka_access(settings, "decider"), group_id=f"{settings.topic_prefix}decider",
        topic=settings.topic("proposals.v1"), instance=settings.instance_id,
        batch_size=settings.decider_batch_size, reload_s=settings.policy_reload_s,
    )  # fmt: skip
    return DeciderService(
        the_decider, config, BundleWatch(the_decider, settings.policy_bundle, policy_engine)
    )


def decision_records(the_ledger: Ledger) -> DecisionRecords:
    """The recorded decisions and inputs of ``the_ledger``."""
    recorder = the_ledger.recorder
    if not isinstance(recorder, LedgerRecorder):
        raise TypeError("the ledger was built without its LedgerRecorder")
    return DecisionRecords(recorder)


def context_at(now: datetime) -> CommandContext:
    """A command context at ``now`` with random ids (services read the clock themselves)."""
    return CommandContext(now=now, new_id=uuid4, correlation_id=uuid4())


def wall_clock() -> datetime:
    """The production clock."""
    return datetime.now(UTC)


def approval_desk(
    settings: Settings, the_ledger: Ledger, systems: Connectors | None = None
) -> ApprovalDesk:
    """The approval desk: approvers from the settings, versions read from the systems."""
    systems = systems or connectors(settings)
    approvers = {
        token: Approver(entry.name, list(entry.roles))
        for token, entry in settings.approvers.items()
    }
    signed_in = None
    if settings.oidc_issuer is not None:
        config = OidcConfig(settings.oidc_issuer, settings.oidc_audience, settings.oidc_roles_claim)
        signed_in = OidcVerifier(config, wall_clock).approver
    return ApprovalDesk(
        the_ledger, approvers, lambda ref: systems.for_resource(ref).current(ref).version,
        lambda: context_at(wall_clock()), signed_in,
    )  # fmt: skip


def expirer(settings: Settings, the_ledger: Ledger | None = None) -> Expirer:
    """The expirer of approval requests on the ledger in effect."""
    return Expirer(
        the_ledger or ledger(settings, "expirer"), wall_clock, context_at, settings.expiry_poll_s
    )


def executor_service(
    settings: Settings, the_ledger: Ledger | None = None, systems: Connectors | None = None
) -> ExecutorService:
    """The executor (one active per ledger) following ``actions.v1``."""
    the_ledger = the_ledger or ledger(settings, "executor")
    systems = systems or connectors(settings)
    serdes = topic_serdes(settings, "actions.v1", "proposals.v1", "deadletter.v1")
    config = ExecutorConfig(
        name=settings.executor_name, max_attempts=settings.executor_max_attempts,
        backoff_s=settings.executor_backoff_s,
    )  # fmt: skip
    the_executor = Executor(
        the_ledger, systems.__getitem__, wall_clock, context_at, config=config,
        failpoint=failpoint(settings.failpoints),
    )  # fmt: skip
    sink = ProposalSink(
        kafka_access(settings, "executor"), serdes["proposals.v1"], settings.partitions,
        seal=as_service(service_key(settings, "executor")),
    )  # fmt: skip
    if the_ledger.executions is None:
        raise TypeError("the ledger was built without its execution index")
    return ExecutorService(
        the_executor, the_ledger.executions, serdes["actions.v1"],
        compensations=CompensationForwarder(sink, the_executor.load, wall_clock, uuid4),
        dead_letter=DeadLetterSink(kafka_access(settings, "executor"), serdes["deadletter.v1"]),
        lock=RelayLock(database_url(settings, "executor"), f"executor:{the_ledger.name}"),
        config=ExecutorServiceConfig(
            kafka=kafka_access(settings, "executor"),
            group_id=f"{settings.topic_prefix}executor.{the_ledger.name}",
            topic=settings.topic("actions.v1"), workers=settings.executor_workers,
        ),
    )  # fmt: skip


def observer(settings: Settings, systems: Connectors | None = None) -> Observer:
    """The observer of every connector's change feed."""
    systems = systems or connectors(settings)
    serdes = topic_serdes(settings, "observations.v1", "deadletter.v1")
    signer = record_signer(settings, "observer")
    owner = topic_owner(settings, topic_spec("observer-positions.v1"))
    if owner is None:
        raise RuntimeError("observer-positions.v1 has no owner in the topic table")
    positions = ObserverPositions(
        kafka_access(settings, "observer"), owner, settings.ledger_name, signer
    )
    config = ObserverConfig(
        kafka=kafka_access(settings, "observer"), partitions=settings.partitions,
        transactional_id=f"{settings.topic_prefix}observer.{settings.ledger_name}",
        poll_s=settings.observer_poll_s, heartbeat_s=settings.observer_heartbeat_s,
    )  # fmt: skip
    return Observer(
        systems, serdes["observations.v1"], positions, wall_clock, config,
        letters=serdes["deadletter.v1"], signer=signer,
    )  # fmt: skip


def reconciler_config(settings: Settings) -> ReconcilerConfig:
    """Where the reconciler reads and writes, its windows and intervals."""
    windows = Windows(
        settle_ms=int(settings.reconciler_settle_s * 1000),
        stale_after_ms=int(settings.reconciler_stale_after_s * 1000),
    )
    return ReconcilerConfig(
        app_id=f"{settings.topic_prefix}reconciler.{settings.ledger_name}",
        kafka=kafka_access(settings, "reconciler"), partitions=settings.partitions,
        ticks_topic=settings.topic("reconciler-ticks.v1"),
        data_dir=settings.state_dir / "reconciler" / settings.ledger_name,
        tick_s=settings.reconciler_tick_s, commit_interval_s=settings.reconciler_commit_s,
        windows=windows,
    )  # fmt: skip


def reconciler(settings: Settings, counters: Counters | None = None) -> faust.App:
    """The reconciler's faust app (run it with ``consumers.reconciler.app.run``)."""
    serdes = topic_serdes(settings, "actions.v1", "observations.v1", "drift.v1", "deadletter.v1")
    config = reconciler_config(settings)
    engine = policy_engine(load_bundle(settings.policy_bundle))
    return build_app(
        config,
        ReconcilerSerdes(
            serdes["actions.v1"], serdes["observations.v1"], serdes["drift.v1"],
            serdes["deadletter.v1"],
        ),
        DriftRules(engine.query),
        wall_clock,
        signer=record_signer(settings, "reconciler"),
        counters=counters,
    )  # fmt: skip


def projection_store(
    settings: Settings, role: str = OPERATOR, *, builds: bool = False
) -> ProjectionStore:
    """The read models of the ledger in effect (tables ``<ledger>_…``), as ``role``.

    A store that ``builds`` views (the projector, a replay) acts as the group role that
    owns them, so a table the projector made can be switched by a replay, and the other
    way round; readers keep their own role (the operator's also reads the ledger's tables).
    """
    url = database_url(settings, role)
    require_login(settings, url)
    prefix = f"{settings.ledger_name.lower()}_view"
    if settings.database_external:  # one role of the user's: its tables where it makes them
        return ProjectionStore(url, prefix)
    if builds:
        if role not in VIEW_MEMBERS:
            raise ValueError(f"role {role!r} cannot build views; {list(VIEW_MEMBERS)} can")
        url = make_conninfo(url, options=f"-c role={VIEWS} -c search_path={VIEWS_SCHEMA}")
    return ProjectionStore(url, f"{VIEWS_SCHEMA}.{prefix}")


def projectors(settings: Settings, names: list[str] | None = None) -> list[Projector]:
    """One live projector per projection (``names``: all by default); bad records dead-lettered."""
    serdes = topic_serdes(settings, "actions.v1", "observations.v1", "drift.v1", "deadletter.v1")
    config = ProjectorConfig(
        kafka=kafka_access(settings, "projector"),
        group_id=f"{settings.topic_prefix}projector",
        instance=settings.instance_id,
    )
    store = projection_store(settings, "projector", builds=True)
    sink = DeadLetterSink(kafka_access(settings, "projector"), serdes["deadletter.v1"])
    lock = threading.Lock()

    def dead_letter(letters: list[DeadLetter]) -> None:  # one producer, one flush at a time
        with lock:
            sink(letters)

    return [
        Projector(p, store, {name: serde.for_another_reader() for name, serde in serdes.items()},
                  config, dead_letter=dead_letter, clock=wall_clock)
        for p in projections(names)
    ]  # fmt: skip


def replay(
    settings: Settings,
    name: str,
    as_of: datetime | None,
    progress: Callable[[int, int], None],
) -> Rebuilt:
    """Rebuild the projection ``name`` from offset 0 (beside the live one if ``as_of``)."""
    (projection,) = projections([name])
    return rebuild(
        projection_store(settings, "projector", builds=True), projection,
        kafka=kafka_access(settings, "projector"),
        serdes=topic_serdes(settings, *projection.topics), as_of=as_of, progress=progress,
    )  # fmt: skip
