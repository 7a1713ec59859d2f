"""How the ledger stores events: a small JSON header and the Avro body of the record.

The body is the record in Avro binary under its contract, so the relay forwards it to
Kafka without decoding it: it only prepends the Confluent framing. The header carries
eventsourcing's own fields, the record's name and its writer schema's fingerprint, its
route, and the trace context of the work that stored it, if any.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoder,
    UUIDAsHex,
)

from infra.routing import route
from infra.serde.catalog import Catalog, Contract
from infra.telemetry.tracing import stored_trace

AVRO, JSON = b"A", b"J"
HEAD = 5  # tag byte + 4-byte header length


class RecordTranscoder(Transcoder):
    """eventsourcing transcoder for events carrying a contract record in ``record``."""

    def __init__(self, catalog: Catalog) -> None:
        """Compile every contract once."""
        self._json = JSONTranscoder()
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
            self._json.register(transcoding)
        self._by_name: dict[str, tuple[Contract, str]] = {}
        self._by_fingerprint: dict[str, Contract] = {}
        for contract in catalog:
            self._by_name[contract.name] = (contract, contract.fingerprint)
            self._by_fingerprint[contract.fingerprint] = contract
        for contract in catalog.superseded:  # read only: records stored before a change
            self._by_fingerprint[contract.fingerprint] = contract

    def encode(self, obj: Any) -> bytes:  # noqa: ANN401  # eventsourcing's event state dict
        """Header + Avro body when the state carries a record, plain JSON otherwise."""
        record = obj.get("record") if isinstance(obj, dict) else None
        if record is None:
            return JSON + self._json.encode(obj)
        contract, print_ = self._by_name[type(record).__name__]
        header = {key: value for key, value in obj.items() if key != "record"}
        header["_schema"] = print_
        header["_route"] = list(route(record))
        trace = stored_trace(record)
        if trace is not None:  # the relay puts it on the record: the action's trace goes on
            header["_trace"] = trace
        head = _header_text(header).encode()
        return AVRO + len(head).to_bytes(4, "big") + head + contract.write(record)

    def decode(self, data: bytes) -> Any:  # noqa: ANN401  # eventsourcing's event state dict
        """The event state, its record rebuilt and validated."""
        if data[:1] == JSON:
            return self._json.decode(data[1:])
        length = int.from_bytes(data[1:HEAD], "big")
        header = json.loads(data[HEAD : HEAD + length].decode(), object_hook=_from_instant)
        contract = self._writer(header.pop("_schema"))
        header.pop("_route", None)
        header.pop("_trace", None)
        header["record"] = contract.read(data, HEAD + length)
        return header

    def split(self, data: bytes) -> tuple[dict[str, Any], str, bytes]:
        """(header, schema fingerprint, Avro body) of a stored record, without decoding it.

        The header's ``_route`` is the record's (topic, key), fixed when it was stored.
        """
        length = int.from_bytes(data[1:HEAD], "big")
        header = json.loads(data[HEAD : HEAD + length].decode())  # instants stay strings here
        return header, header.pop("_schema"), data[HEAD + length :]

    @staticmethod
    def carries_record(data: bytes) -> bool:
        """True if the stored state holds a contract record (not plain JSON)."""
        return data[:1] == AVRO

    def contract_for(self, print_: str) -> Contract:
        """The contract whose schema has fingerprint ``print_``."""
        return self._writer(print_)

    def _writer(self, print_: str) -> Contract:
        try:
            return self._by_fingerprint[print_]
        except KeyError:
            message = f"stored record written with unknown schema {print_}; its contract changed"
            raise LookupError(message) from None


def _instant(value: Any) -> Any:  # noqa: ANN401  # json's default hook
    if isinstance(value, datetime):
        return {"$instant": value.isoformat()}
    raise TypeError(f"cannot store {type(value).__name__} in an event header")


_HEADER = json.JSONEncoder(separators=(",", ":"), default=_instant)


def _c_header_encoder() -> Callable[[dict[str, Any], int], list[str]] | None:
    make = getattr(json.encoder, "c_make_encoder", None)  # json's C accelerator, if built
    if make is None:
        return None
    markers, indent, sort_keys, skip_keys, allow_nan = None, None, False, False, True
    encoder: Callable[[dict[str, Any], int], list[str]] = make(
        markers, _instant, json.encoder.encode_basestring_ascii, indent, ":", ",",
        sort_keys, skip_keys, allow_nan,
    )  # fmt: skip
    return encoder


_C_HEADER = _c_header_encoder()
"""json.dumps(header, default=_instant, separators=(",", ":")) without building an encoder per
event (that took 10 µs of an event's 200); a header is flat, so no cycle check."""


def _header_text(header: dict[str, Any]) -> str:
    if _C_HEADER is None:
        return _HEADER.encode(header)
    return "".join(_C_HEADER(header, 0))


def _from_instant(obj: dict[str, Any]) -> Any:  # noqa: ANN401  # json's object hook
    return datetime.fromisoformat(obj["$instant"]) if obj.keys() == {"$instant"} else obj
