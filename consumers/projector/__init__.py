"""The projector: keeps the read models up to date from the topics."""
