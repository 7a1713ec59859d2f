"""Long-running services over Kafka: relay, decider, executor, observer, reconciler."""
