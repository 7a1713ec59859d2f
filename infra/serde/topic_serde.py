"""The serializer and deserializer of one topic, through the registry.

Several record types share a topic, each under its own subject (record-name strategy).
Deserializing reads the schema id from the Confluent framing, finds which record it is,
and decodes with our reader schema, so old data reads under new schemas. Every way a
payload can be bad raises a :class:`BadRecord` with a stable code.

Records under our own registered schemas (nearly all traffic) skip confluent-kafka's
serde: the contract writes and reads their Avro body directly, behind the framing.
Other schema ids (older or foreign writers) go through its deserializer, which
resolves them against ours.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from typing import Any

import httpx
from confluent_kafka import Message
from confluent_kafka.schema_registry import (
    Schema,
    SchemaRegistryClient,
    record_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext
from pydantic import ValidationError

from domain.values import Record
from infra.provenance import Headers, Owner, message_headers
from infra.replay_guard import ReplayGuard
from infra.serde import expansion_cache
from infra.serde.avro_native import Keeping, Newest
from infra.serde.catalog import Contract
from infra.serde.decoded import Decoded, Pick, Reading
from infra.serde.errors import (
    BadRecord,
    InvalidRecord,
    NotConfluentAvro,
    PayloadTooLarge,
    RecordFailsValidation,
    RegistryUnavailable,
    UnexpectedRecordType,
    UnknownSchemaId,
)

FRAME = 5  # magic byte 0 + 4-byte schema id
NOT_FOUND = 404
SERIALIZER_CONF = {
    "auto.register.schemas": False,  # `schemas register` does it, with the compatibility rule
    "subject.name.strategy": record_subject_name_strategy,
}


class TopicSerde:
    """(De)serialize the records one topic carries; anything else is refused."""

    def __init__(
        self, topic: str, contracts: Iterable[Contract], client: SchemaRegistryClient,
        max_bytes: int, owner: Owner | None = None,
    ) -> None:  # fmt: skip
        """Build one serializer and one deserializer per record type of ``topic``.

        With ``owner``, :meth:`read` takes only records signed by that service.
        """
        expansion_cache.install()
        self.topic, self.owner = topic, owner
        self._replays = ReplayGuard()
        self._client = client
        self.max_bytes = max_bytes
        self._context = SerializationContext(topic, MessageField.VALUE)
        self._serializers: dict[type[Record], AvroSerializer] = {}
        # Deserializers run without a SerializationContext: with one, confluent-kafka
        # re-expands the schema for data-contract rules on every message (we define none),
        # which costs more than decoding. Our mapper then builds the record.
        self._deserializers: dict[str, tuple[AvroDeserializer, Contract]] = {}
        self._exact: dict[
            int, tuple[Contract, Callable[[bytes, int], Any], Callable[[Any], Record]]
        ] = {}
        self._readings: dict[int, Reading] = {}
        self._writers: dict[type[Record], tuple[bytes, Contract]] = {}
        self._names: dict[int, str] = {}
        self._newest: dict[tuple[str, tuple[tuple[str, ...], ...], str, str], Newest | None] = {}
        for contract in contracts:
            self._serializers[contract.cls] = AvroSerializer(
                client, contract.schema_str, to_dict=_to_dict(contract), conf=SERIALIZER_CONF
            )
            resolving = AvroDeserializer(client, contract.schema_str)
            self._deserializers[contract.fullname] = (resolving, contract)
            own_id = _registered_id(client, contract)
            if own_id is not None:  # data written with our own schema needs no resolution
                self._names[own_id] = contract.fullname
                self._exact[own_id] = (contract, *contract.hot_path())
                self._readings[own_id] = _reading(contract, *self._exact[own_id][1:])
                self._writers[contract.cls] = (b"\x00" + own_id.to_bytes(4, "big"), contract)

    def serialize(self, record: Record) -> bytes:
        """Confluent-framed Avro for ``record``."""
        serializer = self._serializers.get(type(record))
        if serializer is None:
            raise UnexpectedRecordType(f"{type(record).__name__} is not carried by {self.topic}")
        writer = self._writers.get(type(record))
        payload: bytes | None
        try:
            if writer is not None:
                payload = writer[0] + writer[1].write(record)
            else:  # not registered when we started: confluent's serializer looks it up
                payload = serializer(record, self._context)
        except SchemaRegistryError as exc:
            raise _registry_error(exc, f"{type(record).__name__} is not registered") from exc
        except (httpx.HTTPError, OSError) as exc:
            raise RegistryUnavailable(f"schema lookup failed: {exc}") from exc
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            raise InvalidRecord(f"{type(record).__name__} does not fit its schema: {exc}") from exc
        if payload is None or len(payload) > self.max_bytes:
            raise PayloadTooLarge(f"{len(payload or b'')} bytes > limit {self.max_bytes}")
        return payload

    def for_another_reader(self) -> TopicSerde:
        """A copy of the serde with a replay guard of its own (its caches shared).

        Two readers of one partition (the projections, each in its own group) read it at
        their own pace: one guard between them would take one's re-reading for the other's.
        """
        clone = copy.copy(self)
        clone._replays = ReplayGuard()  # noqa: SLF001  # our own class
        return clone

    def read(  # a consumed record: where it was, its key, bytes and headers
        self, payload: bytes | None, *, partition: int, key: bytes | None, headers: Headers,
        offset: int | None = None,
    ) -> Record:  # fmt: skip
        """The record a consumer received, if the topic's owner signed it (see :meth:`deserialize`).

        Raises :class:`~infra.serde.errors.Unproven` for a record the owner did not sign,
        and (given its ``offset``) for a genuine record produced again behind a newer one.
        """
        if self.owner is not None:
            number = self.owner.check(partition, key, payload, headers)
            if number is not None and offset is not None:
                self._replays.check(partition, offset, number)
        return self.deserialize(payload)

    def read_message(self, message: Message) -> Record:
        """:meth:`read` for a message from a confluent-kafka consumer."""
        number = self.prove(message)
        if number is not None:
            self._replays.check(message.partition() or 0, message.offset() or 0, number)
        return self.deserialize(message.value())

    def prove(self, message: Message) -> int | None:
        """Return if the topic's owner (if any) signed ``message``, else :class:`Unproven`.

        Returns its number on the owner's chain, if it has one.
        """
        if self.owner is None:
            return None
        headers = message_headers(message)
        return self.owner.check(message.partition() or 0, message.key(), message.value(), headers)

    def deserialize(self, payload: bytes | None) -> Record:
        """The validated record in ``payload``, or a :class:`BadRecord` saying why not."""
        payload, schema_id = self._framed(payload)
        exact = self._exact.get(schema_id)
        if exact is not None:  # our own schema: read and validated in place (the hot path)
            contract, read, validate = exact
            fields = _read(contract, read, payload)
            try:
                return validate(fields)
            except Exception as exc:
                raise _refusal(contract, fields, exc) from exc
        return self._resolved(schema_id, payload)

    def decode(self, payload: bytes | None) -> Decoded:
        """``payload``, its reading and validation left to the :class:`Decoded` (see there).

        Framing faults (no magic byte, too large) raise here what :meth:`deserialize`
        raises; a body that does not decode raises it when the :class:`Decoded` reads it.
        Records under other schema ids than ours are read and validated at once.
        """
        payload, schema_id = self._framed(payload)
        reading = self._readings.get(schema_id)
        if reading is None:
            return Decoded.of(self._record_name(schema_id), self._resolved(schema_id, payload))
        return Decoded(self._names[schema_id], payload, reading)

    def newest(
        self, name: str, key: tuple[tuple[str, ...], ...], separator: str, sequence: str
    ) -> Newest | None:
        """A :data:`Newest` of the records ``name`` (full name) under our own schema id.

        It takes a run of payloads as :func:`~infra.serde.avro_native.compile_newest`
        says, stopping at any it cannot take: those ``deserialize`` and ``decode`` read
        (and refuse, if they are bad). ``None`` if ``name`` is not registered as ours.
        """
        wanted = (name, key, separator, sequence)
        if wanted not in self._newest:
            self._newest[wanted] = None
            for schema_id, (contract, _, _) in self._exact.items():
                if contract.fullname == name:
                    frame = b"\x00" + schema_id.to_bytes(4, "big")
                    keeping = Keeping(frame, self.max_bytes, key, separator, sequence)
                    self._newest[wanted] = contract.newest(keeping)
        return self._newest[wanted]

    def _framed(self, payload: bytes | None) -> tuple[bytes, int]:
        """``payload`` if it is framed and not too large, and its schema id."""
        if payload is None or len(payload) < FRAME or payload[0] != 0:
            start = payload[:8] if payload else payload
            raise NotConfluentAvro(f"expected magic byte 0 and a schema id, got {start!r}")
        if len(payload) > self.max_bytes:
            raise PayloadTooLarge(f"{len(payload)} bytes > limit {self.max_bytes}")
        return payload, int.from_bytes(payload[1:FRAME], "big")

    def _resolved(self, schema_id: int, payload: bytes) -> Record:
        """The record under another schema id than ours, resolved against ours."""
        name = self._record_name(schema_id)
        found = self._deserializers.get(name)
        if found is None:
            raise UnexpectedRecordType(f"{name} is not carried by {self.topic}")
        deserializer, contract = found
        try:
            datum: dict[str, Any] = deserializer(payload, None)  # type: ignore[assignment]  # a record datum
        except SchemaRegistryError as exc:
            raise _registry_error(exc, "schema lookup failed") from exc
        except (httpx.HTTPError, OSError) as exc:  # the registry, not the record, failed
            raise RegistryUnavailable(f"schema lookup failed: {exc}") from exc
        except Exception as exc:  # any other decoding failure means: bad bytes
            raise InvalidRecord(f"{name} does not decode: {exc.__class__.__name__}: {exc}") from exc
        return _validated(contract, datum, contract.from_avro)

    def _record_name(self, schema_id: int) -> str:
        name = self._names.get(schema_id)
        if name is None:
            try:
                schema = json.loads(self._client.get_schema(schema_id).schema_str or "{}")
            except SchemaRegistryError as exc:
                raise _registry_error(exc, f"schema id {schema_id}") from exc
            except (httpx.HTTPError, OSError, ValueError) as exc:  # unreachable or garbled
                raise RegistryUnavailable(f"schema id {schema_id}: {exc}") from exc
            local = str(schema.get("name", "?"))
            space = schema.get("namespace")
            name = local if "." in local or not space else f"{space}.{local}"
            self._names[schema_id] = name
        return name


def _read(contract: Contract, read: Callable[[bytes, int], Any], payload: bytes) -> Any:  # noqa: ANN401  # a datum
    try:
        return read(payload, FRAME)
    except Exception as exc:  # any decoding failure of our own schema means: bad bytes
        name = contract.fullname
        raise InvalidRecord(f"{name} does not decode: {exc.__class__.__name__}: {exc}") from exc


def _reading(
    contract: Contract, read: Callable[[bytes, int], Any], validate: Callable[[Any], Record]
) -> Reading:
    """How :meth:`TopicSerde.decode`'s records of ``contract`` are read and validated.

    Each step raises the :class:`BadRecord` that :meth:`TopicSerde.deserialize` raises.
    """

    def picker(names: frozenset[str]) -> Pick:
        pick = contract.picker(names)
        return lambda payload: _read(contract, pick, payload)

    return Reading(
        lambda payload: _read(contract, read, payload),
        lambda datum: _validated(contract, datum, validate),
        picker,
    )


def _validated(
    contract: Contract, datum: dict[str, Any], validate: Callable[[dict[str, Any]], Record]
) -> Record:
    try:
        return validate(datum)
    except Exception as exc:
        raise _refusal(contract, datum, exc) from exc


def _refusal(contract: Contract, datum: dict[str, Any], exc: Exception) -> BadRecord:
    """Why ``datum`` is no record: it fails validation, or our mappers cannot take it."""
    name = contract.fullname
    if isinstance(exc, ValidationError):
        return RecordFailsValidation(f"{name} fails validation: {_summary(exc)}", datum)
    return InvalidRecord(f"{name} does not decode: {exc.__class__.__name__}: {exc}")  # bad bytes


def _registered_id(client: SchemaRegistryClient, contract: Contract) -> int | None:
    """The id under which ``contract``'s exact schema is registered, if it is."""
    try:
        found = client.lookup_schema(contract.fullname, Schema(contract.schema_str, "AVRO"))
    except SchemaRegistryError:
        return None
    return found.schema_id


def _to_dict(contract: Contract) -> Any:  # noqa: ANN401  # confluent's to_dict callable
    return lambda record, _ctx: contract.to_avro(record)


def _registry_error(exc: SchemaRegistryError, what: str) -> Exception:
    if exc.http_status_code == NOT_FOUND:
        return UnknownSchemaId(f"{what}: {exc.error_message}")
    return RegistryUnavailable(
        f"{what}: registry error {exc.http_status_code}: {exc.error_message}"
    )


def _summary(error: ValidationError) -> str:
    parts = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:5]]
    return "; ".join(parts)
