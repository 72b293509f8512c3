"""Prometheus metrics, `warnengine_*`, base units (seconds), bounded labels (docs/operations.md).

Labels are enums (channel, provider, stage, reason…), never a warning id, village or device: a province
stays a few thousand series. tests/deploy checks dashboards and alerts name only metrics defined here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# Buckets for warning delivery: sub-second pipeline hops up to the 30-minute escalation horizon.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)

# -- intake ----------------------------------------------------------------------------------------------

FEED_MESSAGES = Counter(
    "warnengine_feed_messages_total",
    "Feed messages by source and verdict (accepted, duplicate, rejected)",
    ["source", "verdict"],
)
DEAD_LETTERS = Counter(
    "warnengine_dead_letters_total", "Dead-lettered events by stage and reason", ["stage", "reason"]
)
PRODUCE_FAILURES = Counter(
    "warnengine_produce_failures_total",
    "Records the engine could not produce, by topic and error (each counted once, never retried forever)",
    ["topic", "reason"],
)
WARNINGS = Counter(
    "warnengine_warnings_total", "Warning versions accepted", ["hazard", "severity", "msg_type"]
)

# -- resolve and fan-out ---------------------------------------------------------------------------------

RESOLVE_SECONDS = Histogram(
    "warnengine_resolve_seconds", "Area to villages resolution time", buckets=LATENCY_BUCKETS
)
VILLAGES_TARGETED = Counter("warnengine_villages_targeted_total", "Villages targeted by warnings")
AREA_PROBLEMS = Counter(
    "warnengine_area_problems_total", "Problems found in warning areas (bad polygons, unknown codes…)"
)
WARNINGS_UNTARGETED = Counter(
    "warnengine_warnings_untargeted_total", "Warning versions whose area reaches nobody (flagged, not sent)"
)
ESCALATION_STEPS = Counter(
    "warnengine_escalation_steps_total", "Escalation ladder steps run, by action", ["action"]
)
STAFF_CALLS = Counter(
    "warnengine_staff_calls_total", "Superiors called because staff did not acknowledge (叫应)"
)
DUTY_GAPS = Gauge(
    "warnengine_duty_gaps",
    "Cells the duty roster names with nobody on duty now (calls fall back to the directory)",
)
DUTY_FALLBACKS = Counter(
    "warnengine_duty_fallbacks_total",
    "Ladder look-ups of a rostered cell with nobody on duty (directory used)",
)
DUTY_CALLS = Counter(
    "warnengine_duty_calls_total",
    "叫应 calls of the duty ladder, by post called (none: from the directory)",
    ["post"],
)
DELIVERIES_PLANNED = Counter(
    "warnengine_deliveries_planned_total", "Deliveries planned (people and terminals) by the resolve stage"
)
FANOUT_SECONDS = Histogram(
    "warnengine_fanout_seconds",
    "Warning accepted by the engine to a delivery's first hand-off to its channel",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
# -- delivery --------------------------------------------------------------------------------------------

DELIVERIES = Counter(
    "warnengine_deliveries_total",
    "Delivery attempts by channel, provider and outcome (sent, failed)",
    ["channel", "provider", "outcome"],
)
GROUP_COMMANDS = Counter(
    "warnengine_group_commands_total",
    "Group commands published (one signed command for every terminal of a county, township or village)",
    ["level"],
)
SPEAKERS_FAST_SECONDS = Histogram(
    "warnengine_speakers_fast_path_seconds",
    "New warning version taken by the normalise stage → its loudspeaker commands published",
    ["kind"],
    buckets=LATENCY_BUCKETS,
)
DELIVERY_RETRIES = Counter(
    "warnengine_delivery_retries_total",
    "Delivery attempts after the first (no ack in time, or the channel refused)",
    ["channel"],
)
DELIVERIES_EXPIRED = Counter(
    "warnengine_deliveries_expired_total", "Deliveries closed because their command expired unacknowledged"
)
DISPATCH_SECONDS = Histogram(
    "warnengine_dispatch_seconds",
    "One village batch: record, send, mark",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
PROVIDER_SECONDS = Histogram(
    "warnengine_provider_seconds",
    "One send_batch call to a channel provider (MQTT PUBACKs, SMS API round trip)",
    ["channel", "provider"],
    buckets=LATENCY_BUCKETS,
)
PROVIDER_FAILOVERS = Counter(
    "warnengine_provider_failovers_total",
    "Times a channel switched away from a failing provider",
    ["channel", "provider"],
)
RATE_LIMIT_WAIT_SECONDS = Histogram(
    "warnengine_rate_limit_wait_seconds",
    "Time a batch waited for a provider's declared rate limit",
    ["channel", "provider"],
    buckets=LATENCY_BUCKETS,
)
# -- acknowledgement and escalation ----------------------------------------------------------------------

ACKS = Counter(
    "warnengine_acks_total", "Acknowledgements by channel, state and verdict", ["channel", "state", "verdict"]
)
ACKS_REJECTED = Counter(
    "warnengine_acks_rejected_total",
    "Terminal acks and status reports refused, never applied, by reason (ack_device_mismatch: an ack on "
    "another terminal's topic; status_unknown_device, status_topic_mismatch; unknown_provider_ref: a "
    "provider receipt for a reference no delivery was sent under; provider_ref_recipient_mismatch)",
    ["reason"],
)
TIME_TO_ACK = Histogram(
    "warnengine_time_to_ack_seconds",
    "Command handed to the channel to the terminal's played ack (engine clock)",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
REACH_SECONDS = Histogram(
    "warnengine_warning_reach_seconds",
    "Warning accepted by the engine to a recipient's played ack: the end-to-end number",
    ["channel", "severity"],
    buckets=LATENCY_BUCKETS,
)
VISIT_TASKS = Counter(
    "warnengine_visit_tasks_total",
    "Door-to-door visit tasks: created, escalated (reassigned up the grid), confirmed by the visitor",
    ["state"],
)
VISIT_REPORTS_REFUSED = Counter(
    "warnengine_visit_reports_refused_total", "Visit reports for a household not on an open task"
)

# Set by the reconciler (leader) each sweep; pair with RECONCILE_LAST_SWEEP to ignore a former leader.
READY = Gauge("warnengine_ready", "1 when the worker's /ready checks pass, else 0 (pipeline/health.py)")
UNREACHED = Gauge(
    "warnengine_deliveries_unreached",
    "Deliveries of warnings in force not yet played, as of the last reconciler sweep",
    ["channel", "severity"],
)
UNREACHED_OLDEST = Gauge(
    "warnengine_deliveries_unreached_oldest_seconds",
    "Age of the oldest warning in force with an unreached delivery (since accepted)",
    ["channel", "severity"],
)
HOUSEHOLDS = Gauge(
    "warnengine_households",
    "Households of warnings in force by state (reached, unreached); set by the reconciler's sweep",
    ["severity", "state"],
)

# -- terminals (set by device health) --------------------------------------------------------------------
# warnengine_terminals{state}, warnengine_terminal_changes_total{state,reason} and
# warnengine_terminal_reports_total{kind,verdict} are defined beside the code that sets them, in
# warnengine/devices/health.py (one registry: defining them here too would be a duplicate).

VILLAGES_SILENT = Gauge(
    "warnengine_villages_silent", "Villages none of whose loudspeaker terminals is online"
)

# -- pipeline health -------------------------------------------------------------------------------------

RECONCILE_REEMITS = Counter("warnengine_reconcile_reemits_total", "Unfinished work re-emitted", ["stage"])
RESOLVE_SKIPPED = Counter("warnengine_resolve_skipped_total", "Re-emitted warnings found planned")
RECONCILE_LAST_SWEEP = Gauge(
    "warnengine_reconcile_last_sweep_timestamp_seconds", "Unix time of this worker's last reconciler sweep"
)
STAGE_ERRORS = Counter("warnengine_stage_errors_total", "Unexpected errors in a stage (retried)", ["stage"])


@dataclass(frozen=True)
class Unreached:
    channel: str
    severity: str
    count: int
    oldest_accepted_at: float


def set_households(rows: Iterable[tuple[str, str, int]]) -> None:
    """(severity, state, count) of the warnings in force, replacing the last sweep's series."""
    HOUSEHOLDS.clear()
    for severity, state, n in rows:
        HOUSEHOLDS.labels(severity, state).set(n)


def set_unreached(rows: Iterable[Unreached], now: float) -> None:
    """Replace the unreached gauges wholesale, so a finished warning's series drop to nothing."""
    UNREACHED.clear()
    UNREACHED_OLDEST.clear()
    for r in rows:
        UNREACHED.labels(r.channel, r.severity).set(r.count)
        UNREACHED_OLDEST.labels(r.channel, r.severity).set(max(0.0, now - r.oldest_accepted_at))


# -- consumer lag ----------------------------------------------------------------------------------------


class ConsumerLag(Collector):
    """Per-topic lag of this worker's assigned partitions, read at scrape time from the Faust consumer.

    Uses only the consumer's in-memory state (high-water marks from the last fetch, last read offsets),
    so a scrape costs no broker round trip. Tansu reports some high-water marks short (docs/design.md), so a
    negative difference is clamped to 0.
    """

    def __init__(self, consumer: Callable[[], Any]) -> None:
        self._consumer = consumer

    def collect(self) -> Iterable[GaugeMetricFamily]:
        lag = GaugeMetricFamily(
            "warnengine_consumer_lag", "Messages not yet read on this worker's partitions", labels=["topic"]
        )
        assigned = GaugeMetricFamily(
            "warnengine_assigned_partitions", "Partitions assigned to this worker", labels=["topic"]
        )
        for topic, (n, behind) in sorted(self._per_topic().items()):
            lag.add_metric([topic], behind)
            assigned.add_metric([topic], n)
        yield lag
        yield assigned

    def _per_topic(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        try:
            c = self._consumer()
            if c is None:
                return out
            tps: Sequence[Any] = sorted(c.assignment())
            read = getattr(c, "_read_offset", {})
            committed = getattr(c, "_committed_offset", {})
            for tp in tps:
                high = c.highwater(tp)
                if high is None:
                    continue
                done = read.get(tp)
                # Faust's read offset is the last message read; Kafka's committed offset is the next one.
                position = done + 1 if done is not None else (committed.get(tp) or 0)
                n, behind = out.get(tp.topic, (0, 0))
                out[tp.topic] = (n + 1, behind + max(0, int(high) - int(position)))
        except Exception:  # the consumer is (re)starting: report nothing rather than fail the scrape
            return {}
        return out


_lag: ConsumerLag | None = None


def watch_consumer(consumer: Callable[[], Any]) -> None:
    """Export consumer lag for this process's Faust consumer (one per worker process)."""
    global _lag
    if _lag is not None:
        REGISTRY.unregister(_lag)
    _lag = ConsumerLag(consumer)
    REGISTRY.register(_lag)


# -- WeChat / WeCom / app push adapters (channels/wecom_*.py, wechat_oa.py, push_*.py, tokens.py) -------

CHANNEL_FAILURES = Counter(
    "warnengine_channel_failures_total",
    "Deliveries a people channel adapter could not hand over, by bounded cause (invalid_recipient, "
    "rate_limited, ambiguous…)",
    ["channel", "provider", "code"],
)
TOKEN_REFRESHES = Counter(
    "warnengine_access_token_refreshes_total",
    "Provider access-token fetches (WeChat OA, WeCom, FCM OAuth) by outcome: ok, failed",
    ["provider", "outcome"],
)
TOKEN_REJECTIONS = Counter(
    "warnengine_access_token_rejections_total",
    "Provider answers that our cached access token was invalid or expired (forces one refresh)",
    ["provider"],
)
WEBHOOK_REQUESTS = Counter(
    "warnengine_wechat_webhook_requests_total",
    "WeChat OA / WeCom callback requests by verdict: ok, forged, malformed, stale, failed",
    ["provider", "verdict"],
)

# -- dispatcher API (warnengine/api) -----------------------------------------------------------------------

API_REQUESTS = Counter(
    "warnengine_api_requests_total",
    "Dispatcher API requests by operation (the OpenAPI operationId) and HTTP status",
    ["operation", "status"],
)
API_LATENCY = Histogram(
    "warnengine_api_request_seconds", "Dispatcher API request handling time by operation", ["operation"]
)
API_LOGINS = Counter(
    "warnengine_api_logins_total", "Console logins by result (ok, failed, rate_limited)", ["result"]
)
API_WARNING_ACTIONS = Counter(
    "warnengine_api_warning_actions_total",
    "Dispatcher warning actions (create, submit, approve, reject, release, fast_path, update, cancel)",
    ["action"],
)
API_SSE_STREAMS = Gauge("warnengine_api_sse_streams", "Open live-status (Server-Sent Events) streams")

# -- people-channel providers (warnengine/dispatch/pool.py) -----------------------------------------------

CHANNEL_SENDS = Counter(
    "warnengine_channel_sends_total",
    "Per-delivery outcomes of provider calls: ok, retryable (retried or failed over), failed, ambiguous",
    ["provider", "outcome"],
)
DELIVERY_AMBIGUOUS = Counter(
    "warnengine_delivery_ambiguous_total",
    "Sends whose outcome was ambiguous (request out, no usable answer), by what the provider's lookup said: "
    "found (sent), not_found (safe to retry), unresolved (not resent; flagged for the duty room)",
    ["channel", "provider", "outcome"],
)
CHANNEL_RETRIES = Counter(
    "warnengine_channel_retries_total",
    "Deliveries sent again to the same provider, by the last attempt's cause (rate_limited, server_error…)",
    ["provider", "reason"],
)
CHANNEL_SEND_SECONDS = Histogram(
    "warnengine_channel_send_seconds",
    "One send_batch call to a people-channel provider",
    ["provider"],
    buckets=LATENCY_BUCKETS,
)
CHANNEL_BREAKER = Gauge(
    "warnengine_channel_breaker_state",
    "Provider circuit breaker: 0 closed, 1 half-open, 2 open",
    ["provider"],
)
SMS_SEGMENTS = Counter(
    "warnengine_sms_segments_total", "SMS segments accepted by the provider (what is billed)", ["provider"]
)
VOICE_CALLS = Counter(
    "warnengine_voice_calls_total",
    "Voice calls by provider and outcome (refused, busy, no_answer, failed, canceled, answered, confirmed,"
    " other_key)",
    ["provider", "outcome"],
)
FIELD_REPORTS = Counter(
    "warnengine_field_reports_total",
    "Field reports (灾情 and requests for help) opened in the inbox, by source"
    " (visit, whereabouts, reply, staff)",
    ["source"],
)
FIELD_REPORTS_OPEN = Gauge(
    "warnengine_field_reports_open", "Field reports not yet taken by a duty person, as of the last sweep"
)
FIELD_REPORT_BREACHES = Counter(
    "warnengine_field_report_deadline_breaches_total",
    "Field reports not taken within the policy's report_take_min: the county duty is 叫应'd",
)
UPWARD_REPORTS = Counter(
    "warnengine_upward_reports_total",
    "Upward reports (上报) planned to a township's or the county's duty, by kind (progress, closure)",
    ["kind"],
)

SIMULATED_PROVIDERS = Gauge(
    "warnengine_simulated_providers",
    "1 when this worker's people channels are simulated (design decision 22)",
)
SIMULATED_ANSWERS = Counter(
    "warnengine_simulated_answers_total",
    "Receipts, replies and app acknowledgements the simulated population sent back, by kind",
    ["kind"],
)

# Issue 18 (never trust a silent loudspeaker; link tests): defined beside, named here.
from warnengine.obs.metrics_links import LINK_TEST_LAST_SUCCESS as LINK_TEST_LAST_SUCCESS  # noqa: E402
from warnengine.obs.metrics_links import LINK_TESTS as LINK_TESTS  # noqa: E402
from warnengine.obs.metrics_links import LOUDSPEAKER_FALLBACKS as LOUDSPEAKER_FALLBACKS  # noqa: E402
from warnengine.obs.metrics_links import TERMINAL_PAGES as TERMINAL_PAGES  # noqa: E402
