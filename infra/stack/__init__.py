"""The local stack: Kafka, Apicurio Registry and PostgreSQL, provisioned and run by the project."""
