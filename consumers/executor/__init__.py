"""The executor: applies authorized actions to external systems, exactly once."""
