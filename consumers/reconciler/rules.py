"""The reconciler's judgement: belief vs reality per resource, as drift alerts.

Pure and deterministic: given the same records (and ticks) in the same order it sends
the same alerts with the same ids. An alert id is derived from the drift class, the
resource and the event that started the divergence (the applied action, the first
out-of-band observation, the revoked action, the stale proposal, the last feed read),
so a redelivery or a restart after a crash sends an alert again with the same id.

Each state remembers the last input offset it applied per ``topic:partition`` and the
alerts each offset produced: a record seen again (Kafka redelivers what was not
committed before a crash) changes nothing and sends the same alerts again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from consumers.reconciler.state import (
    RECENT,
    Alert,
    Applied,
    Belief,
    FeedState,
    Observed,
    ResourceState,
    Sent,
    remember,
    shown,
    stored,
)
from consumers.reconciler.verdicts import DriftRules
from domain.events import (
    ActionProposed,
    Authorized,
    ChangeFeedChecked,
    CompensationProposed,
    DomainEvent,
    DriftDetected,
    DriftResolved,
    ExecutionStarted,
    ExternalStateObserved,
    MutationApplied,
    MutationFailed,
    ProposalRejected,
    Revoked,
)
from domain.events.drift import DriftClass, FieldDrift
from domain.ids import action_id
from domain.preconditions import differences, parse
from domain.values import Record, ResourceRef, Value

DECODED = 10_000
"""States kept decoded after their save, the most recent: a tick judging a resource soon
after its input reads it again, and parsing its JSON cost more than its judgement."""

SKEW_MS = 1000
"""A feed read this long after an apply surely includes it (clocks of one deployment)."""


@dataclass(frozen=True)
class Windows:
    """How long the reconciler waits before a verdict."""

    settle_ms: int = 5000
    """After a change, belief and reality may disagree this long before it is drift."""
    stale_after_ms: int = 30_000
    """A feed not read for this long makes its system's verdicts unsafe."""


@dataclass(frozen=True)
class Source:
    """Where an input came from."""

    topic: str
    partition: int
    offset: int

    @property
    def stream(self) -> str:
        """``topic:partition``."""
        return f"{self.topic}:{self.partition}"

    @property
    def position(self) -> str:
        """``topic:partition:offset``."""
        return f"{self.stream}:{self.offset}"


def alert_id(drift_class: DriftClass, key: str, anchor: str) -> str:
    """The alert's id: one per (class, resource, event that started the divergence)."""
    return str(uuid5(NAMESPACE_URL, f"agentledger:drift:{drift_class.value}:{key}:{anchor}"))


def feed_key(system: str, partition: int) -> bytes:
    """The state key of ``system``'s feed on ``partition``."""
    return f"\x00feed\x00{system}\x00{partition}".encode()


def feed_resource(system: str) -> ResourceRef:
    """The resource an ``observer_stale`` alert is about."""
    return ResourceRef(system=system, type="observer", id="feed")


@dataclass
class Output:
    """Alerts to send, each with the Kafka key it goes under."""

    events: list[tuple[bytes, DomainEvent]] = field(default_factory=list)


class Reconciler:
    """Applies inputs to states in ``store`` (resource key or feed key → JSON)."""

    def __init__(
        self,
        store: MutableMapping[bytes, bytes],
        rules: DriftRules,
        windows: Windows,
        partition_of: Callable[[bytes], int],
    ) -> None:
        """Keep states in ``store``; ``partition_of(key)`` is the input partitioner."""
        self.store, self.rules, self.windows = store, rules, windows
        self._partition_of = partition_of
        self._due: dict[int, dict[bytes, int]] = {}
        self._decoded: dict[bytes, tuple[bytes, ResourceState]] = {}
        """Key → (the bytes last saved, the state they were dumped from), least recent first."""
        self._refs: dict[str, ResourceRef] = {}

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop what is known of ``partitions`` (revoked: whoever holds them next changes them)."""
        gone = set(partitions)
        for partition in gone:
            self._due.pop(partition, None)
        for key in [k for k in self._decoded if self._partition_of(k) in gone]:
            del self._decoded[key]

    # -- inputs ---------------------------------------------------------------------------

    def handle(self, source: Source, record: Record) -> list[tuple[bytes, DomainEvent]]:
        """Apply one record from ``actions.v1`` or ``observations.v1``; the alerts it causes."""
        if isinstance(record, ChangeFeedChecked):
            return self._feed_read(source, record)
        resource = getattr(record, "resource", None)
        if not isinstance(resource, ResourceRef):
            return []
        key = resource.key.encode()
        state = self._load(key, resource)
        if state.seen.get(source.stream, -1) >= source.offset:
            return _again(state.sent, source)
        out: list[DomainEvent] = []
        self._apply(state, record, out)
        state.unjudged = True
        self._save(key, state, source, out)
        return [(key, event) for event in out]

    def tick(self, source: Source, now_ms: int) -> list[tuple[bytes, DomainEvent]]:
        """Judge every resource of ``source.partition`` whose settle window ran out."""
        sent: list[tuple[bytes, DomainEvent]] = []
        for key in self._due_keys(source.partition, now_ms):
            raw = self.store.get(key)
            if raw is None:
                continue
            if key.startswith(b"\x00"):
                feed = FeedState.model_validate_json(raw)
                if feed.seen.get(source.stream, -1) >= source.offset:
                    sent += _again(feed.sent, source)
                    continue
                out = self._judge_feed(feed, now_ms)
                self._save_feed(key, feed, source, out)
                sent += [(feed_resource(feed.system).key.encode(), e) for e in out]
                continue
            state = self._decode(key, raw)
            if state.seen.get(source.stream, -1) >= source.offset:
                sent += _again(state.sent, source)
                continue
            out = []
            self._judge(state, now_ms, out)
            self._save(key, state, source, out)
            sent += [(key, event) for event in out]
        return sent

    # -- records --------------------------------------------------------------------------

    def _apply(self, state: ResourceState, record: Record, out: list[DomainEvent]) -> None:
        handlers: dict[type[Record], Callable[[ResourceState, Any, list[DomainEvent]], None]] = {
            ExternalStateObserved: self._observed, MutationApplied: self._applied,
            ExecutionStarted: _started, Authorized: _authorized, MutationFailed: self._failed,
            Revoked: self._revoked, CompensationProposed: _compensation,
            ActionProposed: self._proposed, ProposalRejected: self._rejected,
        }  # fmt: skip
        handler = handlers.get(type(record))
        if handler is not None:
            handler(state, record, out)

    def _observed(
        self, state: ResourceState, record: ExternalStateObserved, out: list[DomainEvent]
    ) -> None:
        seen = state.actual
        if (
            seen is not None
            and seen.source == record.source
            and seen.sequence >= record.change_sequence
        ):
            return
        at_ms = _ms(record.observed_at)
        fields = {name: stored(value) for name, value in record.fields.items()}
        state.actual = Observed(
            fields=fields, version=record.external_version, sequence=record.change_sequence,
            source=record.source, at_ms=at_ms, event_id=str(record.metadata.event_id),
            deleted=record.deleted,
        )  # fmt: skip
        event_id = str(record.metadata.event_id)
        for name, value in fields.items():
            belief = state.believed.get(name)
            owned = self._owned(state, name)
            if belief is None or (belief.action_id is None and not owned):
                state.believed[name] = Belief(value=value, event_id=event_id)
        for aid, pending in list(state.unreflected.items()):
            if all(fields.get(n) == v for n, v in pending.fields.items()):
                del state.unreflected[aid]
        state.last_change_ms = max(state.last_change_ms, at_ms)
        self._resolve_if_in_sync(state, at_ms, event_id, out, settled=False)

    def _applied(
        self, state: ResourceState, record: MutationApplied, out: list[DomainEvent]
    ) -> None:
        aid, event_id = str(record.action_id), str(record.metadata.event_id)
        at_ms = _ms(record.metadata.occurred_at)
        _forget(state.executing, aid)
        # what the action set (its parameters); the record the system returned if unknown
        fields = state.authorized.pop(aid, None) or {
            name: stored(value) for name, value in record.applied_fields.items()
        }
        for name, value in fields.items():
            state.believed[name] = Belief(value=value, action_id=aid, event_id=event_id)
        state.applied[aid] = event_id
        while len(state.applied) > RECENT:
            state.applied.pop(next(iter(state.applied)))
        actual = state.actual
        reflected = actual is not None and all(actual.fields.get(n) == v for n, v in fields.items())
        if not reflected:
            state.unreflected[aid] = Applied(
                action_id=aid, event_id=event_id, version=record.external_version, at_ms=at_ms,
                fields=fields,
            )  # fmt: skip
        state.last_change_ms = max(state.last_change_ms, at_ms)
        alert_of = state.compensations.pop(aid, None)
        if alert_of is not None and alert_of in state.open:
            alert = state.open.pop(alert_of)
            out.append(_resolved(state, alert, "the compensation was applied", event_id, at_ms))

    def _failed(self, state: ResourceState, record: MutationFailed, out: list[DomainEvent]) -> None:
        _forget(state.executing, str(record.action_id))
        diff = parse(record.error)
        if diff is not None:  # the executor's last check found the agent's belief stale
            self._stale(
                state, None, str(record.action_id), diff, str(record.metadata.event_id),
                _ms(record.metadata.occurred_at), out,
            )  # fmt: skip

    def _revoked(self, state: ResourceState, record: Revoked, out: list[DomainEvent]) -> None:
        aid = str(record.action_id)
        applied_by = state.applied.get(aid)
        if applied_by is None:
            return
        at_ms = _ms(record.metadata.occurred_at)
        names = sorted(n for n, b in state.believed.items() if b.action_id == aid)
        drifts = [self._drift(state, n, before=None) for n in names]
        explanation = (
            f"{aid} was revoked after it was applied to {state.key}"
            f" ({', '.join(names) or 'no fields'}); a compensation is proposed"
        )
        self._open(
            state, DriftClass.REVOKED_BUT_APPLIED, aid, drifts,
            [applied_by, str(record.metadata.event_id)], explanation, at_ms, out,
        )  # fmt: skip

    def _proposed(
        self, state: ResourceState, record: ActionProposed, out: list[DomainEvent]
    ) -> None:
        at_ms = _ms(record.metadata.occurred_at)
        actual = state.actual
        if actual is None or not record.preconditions:
            return
        now = {name: shown(value) for name, value in actual.fields.items()}
        diff = differences(record.preconditions, now)
        aid = str(action_id(record.agent_id, record.idempotency_key))
        if diff:
            self._stale(
                state, record.agent_id, aid, diff, str(record.metadata.event_id), at_ms, out
            )
            return
        for alert in list(state.open.values()):
            if alert.drift_class == DriftClass.STALE_BELIEF and alert.agent_id == record.agent_id:
                del state.open[alert.alert_id]
                resolution = f"{record.agent_id} proposed again against the current state"
                out.append(
                    _resolved(state, alert, resolution, str(record.metadata.event_id), at_ms)
                )

    def _rejected(
        self, state: ResourceState, record: ProposalRejected, out: list[DomainEvent]
    ) -> None:
        if record.reason.code != "stale_precondition" or record.action_id is None:
            return
        diff = parse(record.reason.message)
        if diff is None:
            return
        at_ms = _ms(record.metadata.occurred_at)
        self._stale(
            state, record.agent_id, str(record.action_id), diff,
            str(record.metadata.event_id), at_ms, out,
        )  # fmt: skip

    def _stale(  # noqa: PLR0913, PLR0917  # one alert needs all of these
        self,
        state: ResourceState,
        agent: str | None,
        aid: str,
        diff: dict[str, tuple[Value, Value]],
        event_id: str,
        at_ms: int,
        out: list[DomainEvent],
    ) -> None:
        drifts = [
            FieldDrift(field=name, before=actual, believed=believed, actual=actual)
            for name, (believed, actual) in diff.items()
        ]
        detail = ", ".join(f"{d.field}={d.believed!r}" for d in drifts)
        shows = ", ".join(f"{d.field}={d.actual!r}" for d in drifts)
        explanation = (
            f"{agent or 'an agent'} proposed {aid} believing {detail},"
            f" but {state.system} shows {shows}"
        )
        self._open(
            state, DriftClass.STALE_BELIEF, aid, drifts, [event_id], explanation, at_ms, out,
            agent=agent,
        )  # fmt: skip

    def _feed_read(
        self, source: Source, record: ChangeFeedChecked
    ) -> list[tuple[bytes, DomainEvent]]:
        key = feed_key(record.source, source.partition)
        raw = self.store.get(key)
        at_ms = _ms(record.read_at)
        event_id = str(record.metadata.event_id)
        if raw is None:
            feed = FeedState(
                system=record.source, partition=source.partition, read_at_ms=at_ms,
                event_id=event_id,
            )  # fmt: skip
        else:
            feed = FeedState.model_validate_json(raw)
            if feed.seen.get(source.stream, -1) >= source.offset:
                return _again(feed.sent, source)
        feed.read_at_ms, feed.event_id = max(feed.read_at_ms, at_ms), event_id
        out: list[DomainEvent] = []
        if feed.alert is not None:
            resource = feed_resource(feed.system)
            out.append(_resolved_ref(
                resource, feed.alert, "the observer read the feed again", event_id, at_ms
            ))  # fmt: skip
            feed.alert = None
        self._save_feed(key, feed, source, out)
        return [(feed_resource(feed.system).key.encode(), event) for event in out]

    # -- judgement at ticks ---------------------------------------------------------------

    def _judge(self, state: ResourceState, now_ms: int, out: list[DomainEvent]) -> None:
        if state.executing:
            return
        settled = now_ms >= state.last_change_ms + self.windows.settle_ms
        if state.unreflected:
            for pending in sorted(state.unreflected.values(), key=lambda p: p.at_ms):
                due = now_ms >= pending.at_ms + self.windows.settle_ms
                if due and self._fresh(state, pending.at_ms):
                    self._not_reflected(state, pending, now_ms, out)
            return
        actual = state.actual
        if actual is not None and settled:
            covered = {n for a in state.open.values() for n in a.fields
                       if a.drift_class == DriftClass.EXECUTION_NOT_REFLECTED}  # fmt: skip
            names = [n for n in self._diverged(state) if n not in covered]
            if names and _open_of(state, DriftClass.OUT_OF_BAND_CHANGE) is None:
                drifts = [self._drift(state, n, before=shown(state.believed[n].value)
                                      if n in state.believed else None) for n in names]  # fmt: skip
                changes = ", ".join(f"{d.field}: {d.believed!r} -> {d.actual!r}" for d in drifts)
                explanation = (
                    f"{state.system} shows {changes} (version {actual.version})"
                    " with no governed action behind it"
                )
                self._open(
                    state, DriftClass.OUT_OF_BAND_CHANGE, actual.event_id, drifts,
                    _contradicted(state, names), explanation, now_ms, out,
                )  # fmt: skip
        if settled:
            state.unjudged = False
            self._resolve_if_in_sync(state, now_ms, actual.event_id if actual else None, out,
                                     settled=True)  # fmt: skip

    def _not_reflected(
        self, state: ResourceState, pending: Applied, now_ms: int, out: list[DomainEvent]
    ) -> None:
        actual = state.actual.fields if state.actual is not None else {}
        cls = DriftClass.EXECUTION_NOT_REFLECTED
        names = sorted(
            n for n, v in pending.fields.items()
            if actual.get(n) != v and not self._ignored(state, cls, n)
        )  # fmt: skip
        del state.unreflected[pending.action_id]
        if not names:
            return
        drifts = [
            FieldDrift(field=n, before=shown(actual.get(n)), believed=shown(pending.fields[n]),
                       actual=shown(actual.get(n)))
            for n in names
        ]  # fmt: skip
        shows = ", ".join(f"{d.field}={d.actual!r} (applied {d.believed!r})" for d in drifts)
        seconds = self.windows.settle_ms / 1000
        explanation = (
            f"{pending.action_id} was applied as version {pending.version}, but after {seconds:g}s"
            f" {state.system} still shows {shows}"
        )
        self._open(
            state, DriftClass.EXECUTION_NOT_REFLECTED, pending.action_id, drifts,
            [pending.event_id], explanation, now_ms, out,
        )  # fmt: skip

    def _judge_feed(self, feed: FeedState, now_ms: int) -> list[DomainEvent]:
        if feed.alert is not None or now_ms < feed.read_at_ms + self.windows.stale_after_ms:
            return []
        resource = feed_resource(feed.system)
        drift_class = DriftClass.OBSERVER_STALE
        the_id = alert_id(drift_class, resource.key, feed.event_id)
        last = datetime.fromtimestamp(feed.read_at_ms / 1000, UTC).isoformat(timespec="seconds")
        silent = (now_ms - feed.read_at_ms) / 1000
        feed.alert = Alert(
            alert_id=the_id, drift_class=drift_class.value, fields=[], anchor=feed.event_id,
            detected_ms=now_ms,
        )  # fmt: skip
        explanation = (
            f"the {feed.system} change feed was last read at {last} ({silent:.0f}s ago):"
            f" verdicts on {feed.system} are unsafe"
        )
        return [_detected(
            resource, feed.alert, self.rules.severity(drift_class, resource, []), [],
            [feed.event_id], explanation, now_ms,
        )]  # fmt: skip

    # -- helpers --------------------------------------------------------------------------

    def _fresh(self, state: ResourceState, since_ms: int) -> bool:
        partition = self._partition_of(state.key.encode())
        raw = self.store.get(feed_key(state.system, partition))
        if raw is None:
            return False
        return FeedState.model_validate_json(raw).read_at_ms >= since_ms + SKEW_MS

    def _diverged(self, state: ResourceState) -> list[str]:
        actual = state.actual.fields if state.actual is not None else {}
        names = set(actual) | set(state.believed)
        believed = state.believed
        return sorted(
            n for n in names
            if n in believed and (believed[n].action_id is not None or self._owned(state, n))
            and actual.get(n) != believed[n].value
            and not self._ignored(state, DriftClass.OUT_OF_BAND_CHANGE, n)
        )  # fmt: skip

    def _resolve_if_in_sync(
        self, state: ResourceState, at_ms: int, by: str | None, out: list[DomainEvent],
        *, settled: bool,
    ) -> None:  # fmt: skip
        actual = state.actual.fields if state.actual is not None else {}
        for alert in list(state.open.values()):
            if alert.drift_class not in {DriftClass.OUT_OF_BAND_CHANGE,
                                         DriftClass.EXECUTION_NOT_REFLECTED}:  # fmt: skip
                continue
            in_sync = all(
                n not in state.believed or actual.get(n) == state.believed[n].value
                for n in alert.fields
            )
            if in_sync and (settled or not self.windows.settle_ms):
                del state.open[alert.alert_id]
                out.append(_resolved(state, alert, "belief and reality agree again", by, at_ms))

    def _open(  # noqa: PLR0913, PLR0917  # an alert has this many parts
        self,
        state: ResourceState,
        drift_class: DriftClass,
        anchor: str,
        drifts: list[FieldDrift],
        contradicts: list[str],
        explanation: str,
        at_ms: int,
        out: list[DomainEvent],
        *,
        agent: str | None = None,
    ) -> None:
        the_id = alert_id(drift_class, state.key, anchor)
        if the_id in state.open:
            return
        names = [d.field for d in drifts]
        alert = Alert(
            alert_id=the_id, drift_class=drift_class.value, fields=names, anchor=anchor,
            detected_ms=at_ms, agent_id=agent,
        )  # fmt: skip
        state.open[the_id] = alert
        resource = self._ref(state)
        severity = self.rules.severity(drift_class, resource, names)
        out.append(_detected(resource, alert, severity, drifts, contradicts, explanation, at_ms))

    def _drift(self, state: ResourceState, name: str, *, before: Value) -> FieldDrift:
        actual = state.actual.fields.get(name) if state.actual is not None else None
        believed = state.believed[name].value if name in state.believed else None
        return FieldDrift(field=name, before=before, believed=shown(believed), actual=shown(actual))

    def _owned(self, state: ResourceState, name: str) -> bool:
        return self.rules.verdict(DriftClass.OUT_OF_BAND_CHANGE, self._ref(state), name).owned

    def _ignored(self, state: ResourceState, drift_class: DriftClass, name: str) -> bool:
        return self.rules.verdict(drift_class, self._ref(state), name).ignored

    def _ref(self, state: ResourceState) -> ResourceRef:
        """The resource ``state`` is about, validated once (verdicts ask for it per field)."""
        ref = self._refs.get(state.key)
        if ref is None:
            ref = self._refs[state.key] = _ref(state)
            if len(self._refs) > DECODED:
                del self._refs[next(iter(self._refs))]
        return ref

    def _load(self, key: bytes, resource: ResourceRef) -> ResourceState:
        raw = self.store.get(key)
        if raw is None:
            return ResourceState(
                key=resource.key, system=resource.system, type=resource.type, id=resource.id
            )
        return self._decode(key, raw)

    def _decode(self, key: bytes, raw: bytes) -> ResourceState:
        """The state stored as ``raw``: the object it was dumped from if still at hand.

        Only if ``raw`` is the very bytes object saved from it: a store restored from the
        changelog holds other objects, read afresh. The object is taken out while in use,
        so a change that fails half-way is never served again.
        """
        held = self._decoded.pop(key, None)
        if held is not None and held[0] is raw:
            return held[1]
        return ResourceState.model_validate_json(raw)

    def _save(
        self, key: bytes, state: ResourceState, source: Source, out: list[DomainEvent]
    ) -> None:
        state.seen[source.stream] = source.offset
        _log(state.sent, source, out)
        raw = self.store[key] = state.model_dump_json().encode()
        self._decoded[key] = (raw, state)
        if len(self._decoded) > DECODED:
            del self._decoded[next(iter(self._decoded))]
        self._schedule(key, self._next_due(state))

    def _save_feed(
        self, key: bytes, feed: FeedState, source: Source, out: list[DomainEvent]
    ) -> None:
        feed.seen[source.stream] = source.offset
        _log(feed.sent, source, out)
        self.store[key] = feed.model_dump_json().encode()
        owner = self._partition_of(feed_resource(feed.system).key.encode())
        due = None
        if feed.partition == owner and feed.alert is None:
            due = feed.read_at_ms + self.windows.stale_after_ms
        self._schedule(key, due)

    def _next_due(self, state: ResourceState) -> int | None:
        if state.unreflected:
            first = min(p.at_ms for p in state.unreflected.values())
            return first + self.windows.settle_ms
        if state.actual is not None and (state.open or self._diverged(state)):
            return state.last_change_ms + self.windows.settle_ms if state.unjudged else None
        return None

    def _schedule(self, key: bytes, due: int | None) -> None:
        partition = self._partition_of(key) if not key.startswith(b"\x00") else _feed_partition(key)
        if partition not in self._due:  # first use since a start: restored states wait too
            self._rebuild_due(partition)
        due_here = self._due[partition]
        if due is None:
            due_here.pop(key, None)
        else:
            due_here[key] = due

    def _due_keys(self, partition: int, now_ms: int) -> Iterator[bytes]:
        if partition not in self._due:
            self._rebuild_due(partition)
        due_here = self._due[partition]
        return iter(sorted(k for k, due in due_here.items() if due <= now_ms))

    def _rebuild_due(self, partition: int) -> None:
        """After a restart: find this partition's waiting states again (one scan)."""
        self._due[partition] = {}
        for key, raw in list(self.store.items()):
            if key.startswith(b"\x00"):
                if _feed_partition(key) == partition:
                    feed = FeedState.model_validate_json(raw)
                    owner = self._partition_of(feed_resource(feed.system).key.encode())
                    if feed.partition == owner and feed.alert is None:
                        self._due[partition][key] = feed.read_at_ms + self.windows.stale_after_ms
            elif self._partition_of(key) == partition:
                due = self._next_due(ResourceState.model_validate_json(raw))
                if due is not None:
                    self._due[partition][key] = due


def _started(state: ResourceState, record: ExecutionStarted, _out: list[DomainEvent]) -> None:
    remember(state.executing, str(record.action_id))


def _authorized(state: ResourceState, record: Authorized, _out: list[DomainEvent]) -> None:
    state.authorized[str(record.action_id)] = {n: stored(v) for n, v in record.parameters.items()}
    while len(state.authorized) > RECENT:
        state.authorized.pop(next(iter(state.authorized)))


def _compensation(
    state: ResourceState, record: CompensationProposed, _out: list[DomainEvent]
) -> None:
    alert = _open_of(state, DriftClass.REVOKED_BUT_APPLIED, str(record.compensates_action_id))
    if alert is not None:
        state.compensations[str(record.action_id)] = alert.alert_id


def _feed_partition(key: bytes) -> int:
    return int(key.rsplit(b"\x00", 1)[1])


def _ref(state: ResourceState) -> ResourceRef:
    return ResourceRef(system=state.system, type=state.type, id=state.id)


def _open_of(
    state: ResourceState, drift_class: DriftClass, anchor: str | None = None
) -> Alert | None:
    for alert in state.open.values():
        if alert.drift_class == drift_class and anchor in {None, alert.anchor}:
            return alert
    return None


def _contradicted(state: ResourceState, names: list[str]) -> list[str]:
    events = {state.believed[n].event_id for n in names if n in state.believed}
    return sorted(events)


def _forget(items: list[str], item: str) -> None:
    if item in items:
        items.remove(item)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _log(sent: list[Sent], source: Source, out: list[DomainEvent]) -> None:
    sent.extend(Sent(source=source.position, record=e.model_dump(mode="json")) for e in out)
    del sent[:-RECENT]


def _again(sent: list[Sent], source: Source) -> list[tuple[bytes, DomainEvent]]:
    """What an input already applied sent before (it may not have reached Kafka)."""
    events: list[tuple[bytes, DomainEvent]] = []
    for item in sent:
        if item.source != source.position:
            continue
        cls = DriftDetected if "drift_class" in item.record else DriftResolved
        event = cls.model_validate(item.record)
        events.append((event.resource.key.encode(), event))
    return events


def _event_id(kind: str, the_alert: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"agentledger:drift-event:{kind}:{the_alert}")


def _detected(  # noqa: PLR0913, PLR0917  # every part of the alert
    resource: ResourceRef,
    alert: Alert,
    severity: object,
    drifts: list[FieldDrift],
    contradicts: list[str],
    explanation: str,
    at_ms: int,
) -> DriftDetected:
    event_id = _event_id("detected", alert.alert_id)
    return DriftDetected.model_validate({
        "metadata": {"event_id": event_id, "correlation_id": UUID(alert.alert_id),
                     "occurred_at": _at(at_ms)},
        "alert_id": alert.alert_id, "resource": resource, "drift_class": alert.drift_class,
        "severity": severity, "fields": drifts, "contradicts": contradicts,
        "explanation": explanation[:2000],
    })  # fmt: skip


def _resolved(
    state: ResourceState, alert: Alert, resolution: str, by: str | None, at_ms: int
) -> DriftResolved:
    return _resolved_ref(_ref(state), alert, resolution, by, at_ms)


def _resolved_ref(
    resource: ResourceRef, alert: Alert, resolution: str, by: str | None, at_ms: int
) -> DriftResolved:
    event_id = _event_id("resolved", alert.alert_id)
    return DriftResolved.model_validate({
        "metadata": {"event_id": event_id, "correlation_id": UUID(alert.alert_id),
                     "occurred_at": _at(at_ms)},
        "alert_id": alert.alert_id, "resource": resource, "resolution": resolution,
        "resolved_by_event_id": by,
    })  # fmt: skip
