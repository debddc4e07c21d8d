"""Connectors that bring feedback into Kafka, each item once, with its source id."""
