"""What the services report about themselves: Prometheus series, health and readiness."""
