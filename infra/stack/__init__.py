"""The local stack: Kafka, Apicurio Registry, PostgreSQL and the CRM simulator, run locally."""
