"""Shared by the property-based tests: deterministic settings and the one property they all check."""

from __future__ import annotations

from typing import get_args

from hypothesis import HealthCheck, settings

from warnengine.model import HazardWarning
from warnengine.normalise import FeedError, TrustStore, parse_feed
from warnengine.normalise.errors import Reason

REASONS = frozenset(get_args(Reason))


def fuzz_settings(examples: int) -> settings:
    """Deterministic (derandomize: the same examples on every run and in CI), no example database
    (nothing written into the repo), no per-example deadline (the first CAP 1.2 example loads the XSD)."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def outcome(raw: bytes, source: str = "test", trust: TrustStore | None = None) -> HazardWarning | FeedError:
    """The property: parse_feed returns a Warning or raises FeedError with a known reason; any other
    exception propagates and fails the test (hypothesis then shrinks the input)."""
    try:
        warning = parse_feed(raw, source, trust)
    except FeedError as exc:
        assert exc.reason in REASONS, exc.reason
        assert str(exc).startswith(f"{exc.reason}: ")
        return exc
    assert warning.source == source
    return warning
