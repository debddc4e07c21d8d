"""Metrics, named by one spec: ``tingjian_*``, ``*_total`` counters, bounded labels.

Label values come from the fixed vocabularies below, never from configuration
(a source's configured name, a mailbox) or from data.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# The client's ``*_created`` series hold a timestamp that reads like a count
# (``tingjian_tickets_created 1.796e+09``): not exported.
disable_created_metrics()  # type: ignore[no-untyped-call]

# The services, as the ``stage`` label spells them.
Stage = Literal[
    "ingest_web",
    "ingest_email",
    "ingest_social",
    "ingest_import",
    "triage",
    "sink_crm",
    "crm_api",
    "sla_watch",
    "sink_webhook",
]
# Connector kinds, as the ``connector`` label spells them: a kind, never a configured name.
Connector = Literal["web", "email", "social", "import"]

# Labels: stage is one of a handful of service names; topic is one of the four
# pipeline topics; error_type is an exception class name from our own tree or
# a contract failure kind: all bounded.
MESSAGES_IN = Counter("tingjian_messages_in_total", "Messages consumed or received", ["stage"])
MESSAGES_OUT = Counter(
    "tingjian_messages_out_total", "Messages written downstream", ["stage", "topic"]
)
ERRORS = Counter("tingjian_errors_total", "Errors by type", ["stage", "error_type"])
BATCH_SECONDS = Histogram(
    "tingjian_batch_seconds",
    "Time to process one batch, from poll to commit",
    ["stage"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_LAG = Gauge(
    "tingjian_consumer_lag", "Messages not yet consumed, summed over partitions", ["stage"]
)
TICKETS = Counter("tingjian_tickets_total", "Tickets written to the CRM store", ["outcome"])
INCIDENTS = Counter("tingjian_incidents_total", "Incidents detected (bursts of one problem)")
QUARANTINED = Counter("tingjian_quarantined_total", "Items quarantined", ["reason"])
# connector: a Connector kind; outcome: a fixed vocabulary
# (received, produced, duplicate, auto_reply, bounce, bulk, rejected_<reason>).
INGEST_ITEMS = Counter(
    "tingjian_ingest_items_total", "Items seen by connectors", ["connector", "outcome"]
)
DEAD_LETTERS = Counter("tingjian_dead_letters_total", "Items sent to the DLQ", ["stage"])

# HTTP services: route is one of the service's fixed paths or "other", status the
# code answered (a handful of values).
HTTP_REQUESTS = Counter(
    "tingjian_http_requests_total", "HTTP requests answered", ["stage", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "tingjian_http_request_seconds",
    "Time from request to the end of the response",
    ["stage", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)

# The SLA clock: kind is acknowledge, first_response, resolve or update.
SLA_BREACHES = Counter("tingjian_sla_breaches_total", "SLA breaches recorded", ["priority", "kind"])
SLA_WARNINGS = Counter(
    "tingjian_sla_warnings_total", "SLA warnings recorded (before a breach)", ["priority", "kind"]
)
# outcome: delivered, retried, dead_lettered, circuit_open.
WEBHOOK_DELIVERIES = Counter(
    "tingjian_webhook_deliveries_total", "Webhook delivery attempts by outcome", ["outcome"]
)

# Models (triage): head is one of the bundle's heads (type, priority, sentiment
# and configured ones), label a class of that head's fixed vocabulary, window
# "hour" or "day".
SHADOW_DISAGREEMENTS = Counter(
    "tingjian_shadow_disagreements_total",
    "Items where the shadow model's label differs from the live model's",
    ["head"],
)
LABEL_SHARE = Gauge(
    "tingjian_label_share",
    "Share of the live model's labels per class over the window",
    ["head", "label", "window"],
)
LABEL_CONFIDENCE = Gauge(
    "tingjian_label_confidence_mean",
    "Mean confidence of the live model's labels over the window",
    ["head", "window"],
)
