"""Read models rebuilt from the topics: believed and actual state, drift, approvals, timeline."""
