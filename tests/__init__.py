"""agentledger's tests: unit, integration, e2e, chaos, fuzz."""
