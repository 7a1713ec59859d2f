"""The HTTP API: proposals for agents that are not Python, actions, and approvals."""
