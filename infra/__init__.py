"""Adapters: Kafka, serde and registry, PostgreSQL, policy engine, connectors, the local stack."""
