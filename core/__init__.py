"""The floor of the house: what every stage may import.

The error tree, masking and the customer key, logs, metrics, the Kafka and
PostgreSQL adapters, the consumer loop, dead letters, the mail-text helpers and
the store's schema. It imports only ``models``; nothing here connects at import
time.
"""
