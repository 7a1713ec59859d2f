"""The relay: every ledger event onto Kafka, in store order, exactly once, hash-chained."""
