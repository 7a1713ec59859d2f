"""Typed serde failures.

Each ``BadRecord`` carries a stable code and a reason, so a consumer can turn it into a
dead letter; ``RegistryUnavailable`` is transient: retry, never dead-letter.
"""

from __future__ import annotations


class SerdeError(Exception):
    """Base of every serde failure."""


class BadRecord(SerdeError):
    """The bytes (or the object) can never be (de)serialized: dead-letter them."""

    code = "bad_record"

    def __init__(self, reason: str) -> None:
        """``reason`` says what was wrong, for humans."""
        self.reason = reason
        super().__init__(f"{self.code}: {reason}")


class ProcessingFailed(BadRecord):
    """A record that decodes but made its consumer fail every time it was tried."""

    code = "processing_failed"


class NotConfluentAvro(BadRecord):
    """Not Confluent wire format: missing, too short, or a magic byte other than 0."""

    code = "not_confluent_avro"


class UnknownSchemaId(BadRecord):
    """The framing names a schema id the registry does not have."""

    code = "unknown_schema_id"


class UnexpectedRecordType(BadRecord):
    """A valid record of a type this topic does not carry."""

    code = "unexpected_record_type"


class InvalidRecord(BadRecord):
    """The payload does not decode under its schema, or the decoded record fails validation."""

    code = "invalid_record"


class RecordFailsValidation(InvalidRecord):
    """The payload decodes under its schema, but the record breaks a rule of its class.

    Carries the decoded Avro ``datum``, so a consumer can say whose record it was.
    """

    def __init__(self, reason: str, datum: dict[str, object]) -> None:
        """``reason`` lists the failed rules; ``datum`` is the decoded record."""
        super().__init__(reason)
        self.datum = datum


class PayloadTooLarge(BadRecord):
    """The payload exceeds the configured maximum record size."""

    code = "payload_too_large"


class RegistryUnavailable(SerdeError):
    """The registry could not be reached or failed: transient, never a dead letter."""


class Unproven(BadRecord):
    """A record on an internal topic without a valid signature of the service that owns it."""

    code = "unproven"


class Tampered(BadRecord):
    """A stored event that fails the ledger's seal: written or changed outside agentledger."""

    code = "tampered"
