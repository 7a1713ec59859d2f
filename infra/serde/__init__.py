"""Avro serde through the schema registry: contracts, codecs, per-topic (de)serializers."""
