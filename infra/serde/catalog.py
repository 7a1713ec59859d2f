"""The contracts: each ``schemas/*.avsc`` record bound to its class and compiled mappers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro.schema import load_schema

from domain.events import ALL_EVENTS
from domain.events.base import EventMetadata
from domain.events.decisions import Obligations
from domain.events.drift import FieldDrift
from domain.events.proposals import KafkaPosition, Reason, Signature
from domain.values import Record, ResourceRef
from infra.serde.avro_native import (
    Keeping,
    Newest,
    compile_newest,
    compile_picker,
    compile_reader,
    compile_writer,
)
from infra.serde.codec import compile_decoder, compile_encoder, named_types
from infra.serde.deadletter import DeadLetter

NAMESPACE = "agentledger.v1"
HISTORY = "history"
"""Where a contract's earlier expanded schemas are kept when it changes, one file each:
``history/agentledger.v1.<Name>.<fingerprint>.avsc``, so records stored under them stay
readable. ``tests/unit/test_schema_history.py`` finds any that git history needs."""
TOP_LEVEL: tuple[type[Record], ...] = (*ALL_EVENTS, DeadLetter)
"""Records that travel on a topic on their own."""
SHARED: tuple[type[Record], ...] = (
    ResourceRef, EventMetadata, Reason, Obligations, KafkaPosition, FieldDrift, Signature,
)  # fmt: skip
"""Records only ever nested in others; ``Value`` is the one contract without a class."""


@dataclass(frozen=True)
class Contract:
    """One top-level record: its schema (expanded, self-contained) and its mappers.

    ``write`` and ``read`` give and take the record's Avro body (no framing) in its own
    schema, through the writer and reader compiled from it (``infra.serde.avro_native``).
    ``to_avro`` and ``from_avro`` map to and from the datum fastavro and confluent-kafka's
    serde take and give (other schemas' data).
    """

    name: str
    fullname: str
    schema: dict[str, Any]
    schema_str: str
    cls: type[Record]
    _encode: Any
    _decode: Any
    _write: Any
    _read: Any

    def to_avro(self, record: Record) -> dict[str, Any]:
        """The Avro datum for ``record`` (fastavro's form)."""
        return self._encode(record)  # type: ignore[no-any-return]  # the compiled record mapper

    def from_avro(self, datum: dict[str, Any]) -> Record:
        """The validated record for a datum fastavro read (raises pydantic's ValidationError)."""
        return self.validate(datum if self._decode is None else self._decode(datum))

    def write(self, record: Record) -> bytes:
        """The Avro body of ``record`` under this contract's schema."""
        return self._write(record)  # type: ignore[no-any-return]  # the compiled writer

    def datum(self, data: bytes, start: int = 0) -> dict[str, Any]:
        """What the body in ``data[start:]`` holds, ready to validate (its exact schema)."""
        return self._read(data, start)  # type: ignore[no-any-return]  # the compiled reader

    def hot_path(self) -> tuple[Callable[[bytes, int], dict[str, Any]], Callable[[Any], Record]]:
        """The compiled reader and the class's validator themselves, for per-record loops.

        ``read(data, start)`` is ``validator(reader(data, start))`` without two Python frames
        in between (about 1 µs of 17 for a proposal).
        """
        return self._read, self.cls.__pydantic_validator__.validate_python

    def picker(self, names: frozenset[str]) -> Callable[[bytes, int], dict[str, Any]]:
        """``pick(data, start)``: of what :meth:`datum` would give, only the fields ``names``.

        The other fields are walked over, not read (see ``avro_native.compile_picker``).
        """
        return compile_picker(self.schema, named_types(self.schema), names)

    def newest(self, keeping: Keeping) -> Newest:
        """A keeper of each key's newest payload (see ``avro_native.compile_newest``)."""
        return compile_newest(self.schema, named_types(self.schema), keeping)

    def validate(self, datum: dict[str, Any]) -> Record:
        """The record for what :meth:`datum` gave (raises pydantic's ValidationError)."""
        return self.cls.model_validate(datum)

    def read(self, data: bytes, start: int = 0) -> Record:
        """The validated record whose body fills ``data[start:]`` (its exact schema)."""
        return self.validate(self.datum(data, start))

    @property
    def fingerprint(self) -> str:
        """A short, stable id of this exact schema (what the ledger stores records under)."""
        return hashlib.sha256(self.schema_str.encode()).hexdigest()[:16]


def _compiled(schema: dict[str, Any], cls: type[Record]) -> Contract:
    """The contract of ``cls`` under ``schema`` (its own, or an earlier one it still reads)."""
    named = named_types(schema)
    return Contract(
        cls.__name__, f"{NAMESPACE}.{cls.__name__}", schema, canonical_json(schema), cls,
        compile_encoder(schema, named), compile_decoder(schema, named),
        compile_writer(schema, named), compile_reader(schema, named),
    )  # fmt: skip


class Catalog:
    """Every top-level contract, loaded from a schemas directory."""

    def __init__(self, schemas_dir: Path, classes: Iterable[type[Record]] = TOP_LEVEL) -> None:
        """Load and compile the schema of each class in ``classes`` from ``schemas_dir``."""
        self.schemas_dir = schemas_dir
        self._by_name: dict[str, Contract] = {}
        for cls in classes:
            fullname = f"{NAMESPACE}.{cls.__name__}"
            schema = load_schema(str(schemas_dir / f"{fullname}.avsc"), _write_hint=False)
            if not isinstance(schema, dict):
                raise TypeError(f"{fullname}.avsc must hold one record schema")
            self._by_name[cls.__name__] = _compiled(schema, cls)
        self.superseded = [
            contract for path in sorted((schemas_dir / HISTORY).glob(f"{NAMESPACE}.*.avsc"))
            if (contract := self._superseded(path)) is not None
        ]  # fmt: skip
        """Earlier versions of contracts, to read what was stored under them (``HISTORY``)."""

    def _superseded(self, path: Path) -> Contract | None:
        name, print_ = path.name.removeprefix(f"{NAMESPACE}.").removesuffix(".avsc").split(".")
        current = self._by_name.get(name)
        if current is None:  # a catalog of some classes only
            return None
        contract = _compiled(json.loads(path.read_text()), current.cls)
        if contract.fingerprint != print_:
            raise TypeError(f"{path} holds the schema {contract.fingerprint}, not {print_}")
        return contract

    def __getitem__(self, name: str) -> Contract:
        """The contract of the record called ``name`` (short name, e.g. ``ActionProposed``)."""
        return self._by_name[name]

    def __iter__(self) -> Any:  # noqa: ANN401  # an iterator of contracts
        """All contracts."""
        return iter(self._by_name.values())

    def by_fullname(self, fullname: str) -> Contract | None:
        """The contract whose Avro full name is ``fullname``, if any."""
        return self._by_name.get(fullname.removeprefix(f"{NAMESPACE}."))


def schema_files(schemas_dir: Path) -> dict[str, Path]:
    """Every ``.avsc`` file in ``schemas_dir`` by its record's short name."""
    prefix = f"{NAMESPACE}."
    return {
        p.name.removeprefix(prefix).removesuffix(".avsc"): p for p in schemas_dir.glob("*.avsc")
    }


def canonical_json(schema: dict[str, Any]) -> str:
    """The schema as JSON with sorted keys: the same text in every process.

    fastavro's expansion does not keep key order stable across interpreter runs, and
    both the registry (one version per distinct text) and the stored fingerprints need
    one text per schema.
    """
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))
