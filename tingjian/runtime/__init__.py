"""Adapters and plumbing shared by the services: Kafka, metrics/health HTTP, the
consumer loop. Nothing here connects at import time."""
