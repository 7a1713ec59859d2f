"""A record whose reading and validation wait until someone needs them.

A rebuild of a view that keeps only each key's newest record reads every record but
uses a few: reading just the fields it keys on (the rest of the bytes walked over) and
validating only the records it keeps is what :class:`Decoded` allows. ``datum`` is what
the Avro reader gives, shaped by the record's schema; :meth:`Decoded.record` validates it
once and raises what deserializing would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from domain.values import Record
from infra.serde.errors import BadRecord

Pick = Callable[[bytes], dict[str, Any]]
"""payload -> some of its record's top-level fields (raises :class:`BadRecord`)."""


class Reading:
    """How records of one schema are read from their payloads, whole or in part, and validated.

    ``read(payload)`` gives the whole datum, ``picker(names)`` a :data:`Pick` of the fields
    ``names``, ``validate(datum)`` the record; each raises a :class:`BadRecord` if it cannot.
    """

    def __init__(
        self, read: Callable[[bytes], Any], validate: Callable[[Any], Record],
        picker: Callable[[frozenset[str]], Pick],
    ) -> None:  # fmt: skip
        """Read, pick and validate as given (pickers compiled once per set of names)."""
        self.read, self.validate, self._picker = read, validate, picker
        self._picks: dict[frozenset[str], Pick] = {}

    def pick(self, payload: bytes, names: frozenset[str]) -> dict[str, Any]:
        """The fields ``names`` of the record in ``payload``."""
        pick = self._picks.get(names)
        if pick is None:
            pick = self._picks[names] = self._picker(names)
        return pick(payload)


_UNREAD: Any = object()


class Decoded:
    """One record of the Avro record type ``name``, read and validated on first use."""

    __slots__ = ("_datum", "_payload", "_reading", "_record", "_refusal", "name")

    def __init__(self, name: str, payload: bytes, reading: Reading) -> None:
        """The record of type ``name`` in ``payload`` (framed, as on its topic), via ``reading``."""
        self.name, self._payload, self._reading = name, payload, reading
        self._datum: Any = _UNREAD
        self._record: Record | None = None
        self._refusal: BadRecord | None = None

    @classmethod
    def of(cls, name: str, record: Record) -> Decoded:
        """A record validated already (read through another path): it has no datum."""
        decoded = cls(name, b"", _VALIDATED)
        decoded._datum, decoded._record = None, record  # set once, at construction
        return decoded

    @property
    def datum(self) -> Any:  # noqa: ANN401  # a datum
        """The whole datum (read on first use); ``None`` for a record validated already.

        Raises the :class:`BadRecord` of bytes that do not decode.
        """
        if self._datum is _UNREAD:
            self._datum = self._reading.read(self._payload)
        return self._datum

    def fields(self, names: frozenset[str]) -> dict[str, Any] | None:
        """The datum's top-level fields ``names``, the others not read; ``None`` if validated.

        Raises the :class:`BadRecord` of bytes that do not decode as far as that reading
        goes: the other fields' bytes are checked for their shape only (lengths, tags),
        the rest when :attr:`datum` or :meth:`record` reads them.
        """
        if self._datum is None:
            return None
        if self._datum is not _UNREAD:
            return {name: self._datum[name] for name in names if name in self._datum}
        return self._reading.pick(self._payload, names)

    def record(self) -> Record:
        """The validated record; a :class:`BadRecord` (the same one every time) if invalid."""
        if self._record is not None:
            return self._record
        if self._refusal is not None:
            raise self._refusal
        try:
            self._record = self._reading.validate(self.datum)
        except BadRecord as exc:
            self._refusal = exc
            raise
        return self._record


def _never(_datum: object) -> NoReturn:
    raise AssertionError("a record validated at construction is never read or validated again")


_VALIDATED = Reading(_never, _never, lambda _names: _never)
