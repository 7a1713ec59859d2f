"""The decider: proposals from Kafka -> validated, evaluated by policy, decided in the ledger."""

import infra.policy  # noqa: F401  # regopy before any native allocator hook (STACK.md)
