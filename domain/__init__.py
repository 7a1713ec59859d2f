"""The pure domain: aggregates, commands, events, invariants.

Imports only the standard library, pydantic and ``eventsourcing.domain``.
"""
