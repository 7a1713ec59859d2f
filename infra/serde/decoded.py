"""A record read from its bytes whose validation waits until someone needs the record.

A rebuild of a view that keeps only each key's newest record reads every record but
uses a few: validating only those (a fifth of the cost of reading one, and more) is
what :class:`Decoded` allows. ``datum`` is what the Avro reader gave, shaped by the
record's schema; :meth:`record` validates it once and raises what deserializing would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.values import Record
from infra.serde.errors import BadRecord


class Decoded:
    """One decoded record of the Avro record type ``name``, validated on first use."""

    __slots__ = ("_record", "_refusal", "_validate", "datum", "name")

    def __init__(
        self, name: str, datum: Any, validate: Callable[[Any], Record],  # noqa: ANN401  # a datum
    ) -> None:  # fmt: skip
        """``validate(datum)`` returns the record or raises a :class:`BadRecord`."""
        self.name, self.datum, self._validate = name, datum, validate
        self._record: Record | None = None
        self._refusal: BadRecord | None = None

    @classmethod
    def of(cls, name: str, record: Record) -> Decoded:
        """A record validated already (read through another path)."""
        decoded = cls(name, None, _never)
        decoded._record = record  # set once, at construction
        return decoded

    def record(self) -> Record:
        """The validated record; a :class:`BadRecord` (the same one every time) if invalid."""
        if self._record is not None:
            return self._record
        if self._refusal is not None:
            raise self._refusal
        try:
            self._record = self._validate(self.datum)
        except BadRecord as exc:
            self._refusal = exc
            raise
        return self._record


def _never(_datum: Any) -> Record:  # noqa: ANN401  # a datum
    raise AssertionError("a record validated at construction is never validated again")
