"""Prometheus metrics, `warnengine_*`, base units (seconds), low-cardinality labels."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# Buckets for warning delivery: sub-second pipeline hops up to the 30-minute escalation horizon.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)

FEED_MESSAGES = Counter(
    "warnengine_feed_messages_total", "Feed messages by source and verdict", ["source", "verdict"]
)
DEAD_LETTERS = Counter(
    "warnengine_dead_letters_total", "Dead-lettered events by stage and reason", ["stage", "reason"]
)
WARNINGS = Counter(
    "warnengine_warnings_total", "Warning versions accepted", ["hazard", "severity", "msg_type"]
)
RESOLVE_SECONDS = Histogram(
    "warnengine_resolve_seconds", "Area to villages resolution time", buckets=LATENCY_BUCKETS
)
VILLAGES_TARGETED = Counter("warnengine_villages_targeted_total", "Villages targeted by warnings")
DELIVERIES = Counter(
    "warnengine_deliveries_total", "Delivery attempts by channel and outcome", ["channel", "outcome"]
)
DISPATCH_SECONDS = Histogram(
    "warnengine_dispatch_seconds",
    "One village batch: record, send, mark",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
ACKS = Counter(
    "warnengine_acks_total", "Acknowledgements by channel, state and verdict", ["channel", "state", "verdict"]
)
TIME_TO_ACK = Histogram(
    "warnengine_time_to_ack_seconds",
    "Warning sent time to terminal played ack",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
RECONCILE_REEMITS = Counter("warnengine_reconcile_reemits_total", "Unfinished work re-emitted", ["stage"])
STAGE_ERRORS = Counter("warnengine_stage_errors_total", "Unexpected errors in a stage (retried)", ["stage"])
