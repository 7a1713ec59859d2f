"""Stand-ins for the external systems agentledger governs, run as real separate processes.

Nothing here imports agentledger: a simulator only speaks its own wire protocol.
"""
