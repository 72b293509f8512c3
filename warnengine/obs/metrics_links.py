"""Metrics of the loudspeaker fallback, offline pages and link tests (issue 18); re-exported by metrics.py."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

LOUDSPEAKER_FALLBACKS = Counter(
    "warnengine_loudspeaker_fallbacks_total",
    "Villages put on visits at once because their terminals were all offline or none played in time",
    ["reason"],
)
TERMINAL_PAGES = Counter(
    "warnengine_terminal_pages_total",
    "Terminals offline too long whose 专人 was paged: sent, failed, no_person, no_address",
    ["result"],
)
LINK_TEST_LAST_SUCCESS = Gauge(
    "warnengine_link_test_last_success_timestamp_seconds",
    "When each link (terminal:<id>, provider:<name>) last passed its scheduled test; 0: never",
    ["link"],
)
LINK_TESTS = Counter(
    "warnengine_link_tests_total",
    "Link tests and canaries by kind and result (ok or the reason)",
    ["kind", "result"],
)
CHANNEL_PROVIDER_ENABLED = Gauge(
    "warnengine_channel_provider_enabled",
    "People-channel providers of config/channels.yaml: 1 started, 0 off (credentials not set or refused)",
    ["channel", "provider"],
)
