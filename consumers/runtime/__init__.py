"""What every service shares: the consumer runner, the retry policy, the dead-letter sink."""
