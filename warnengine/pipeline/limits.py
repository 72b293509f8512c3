"""Kafka size limits consistent with the feed limit, checked at worker start (issue 22).

A feed message the engine accepts must be consumable and producible, and every record the engine
itself produces must be far below the producer's request limit: one over it once stalled the line.
"""

from __future__ import annotations

from warnengine.settings import Settings
from warnengine.wire import records

# A record batch's framing around one message (headers, key, batch header): generous.
RECORD_OVERHEAD_BYTES = 64 * 1024
# The largest record the engine itself produces: a dead letter (excerpt, detail, key, framing).
OWN_RECORD_BYTES = records.DeadLetter.EXCERPT_BYTES * 4 + RECORD_OVERHEAD_BYTES


class LimitsError(ValueError):
    pass


def check_kafka_limits(settings: Settings) -> None:
    """Raise `LimitsError` naming the settings when they cannot work together."""
    problems = []
    need = settings.max_feed_bytes + RECORD_OVERHEAD_BYTES
    if settings.kafka_max_message_bytes < need:
        problems.append(
            f"kafka_max_message_bytes={settings.kafka_max_message_bytes} is below max_feed_bytes="
            f"{settings.max_feed_bytes} + {RECORD_OVERHEAD_BYTES} framing: an accepted feed message "
            "could not be produced or consumed"
        )
    if settings.kafka_max_message_bytes < OWN_RECORD_BYTES * 4:
        problems.append(
            f"kafka_max_message_bytes={settings.kafka_max_message_bytes} leaves too little room for the "
            f"engine's own records (up to {OWN_RECORD_BYTES} bytes)"
        )
    if problems:
        raise LimitsError("inconsistent Kafka size limits: " + "; ".join(problems))
