"""The ledger: an eventsourcing application on PostgreSQL, and how it stores records."""
