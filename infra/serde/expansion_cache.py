"""Expand each reader schema once, not once per message, in confluent-kafka's Avro serde.

confluent-kafka 2.16's ``AvroDeserializer`` calls ``fastavro.schema.expand_schema`` on
its reader schema for every message it decodes (``_sync/avro.py``), only to hand the
result to data-contract rules, which run solely with a serialization context and which
we do not define. Expanding our largest schema costs about as much as decoding it, so
:func:`install` swaps that module's ``expand_schema`` for one that remembers its result
per schema object. The parsed schemas it sees are the serde's own cached objects, alive
as long as the serde, and an expansion is a pure function of the schema.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka.schema_registry._sync import (
    avro as confluent_avro,  # the module whose hot path we fix
)
from fastavro.schema import expand_schema

_expanded: dict[int, tuple[Any, Any]] = {}


def cached_expand_schema(schema: Any) -> Any:  # noqa: ANN401  # fastavro's schema type
    """``expand_schema(schema)``, computed once per schema object."""
    found = _expanded.get(id(schema))
    if found is not None and found[0] is schema:
        return found[1]
    expanded = expand_schema(schema)
    _expanded[id(schema)] = (schema, expanded)  # keeps ``schema`` alive: its id stays unique
    return expanded


def install() -> None:
    """Use :func:`cached_expand_schema` in confluent-kafka's synchronous Avro serde."""
    confluent_avro.expand_schema = cached_expand_schema
