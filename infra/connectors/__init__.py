"""Connectors to the external systems of record agentledger governs."""
