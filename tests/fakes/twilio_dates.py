"""The DateSent filters of Twilio's Messages list resource, for the fake."""

from __future__ import annotations

from datetime import UTC, date, datetime

DATE_FILTERS = {"DateSent": "=", "DateSent<": "<=", "DateSent>": ">="}


def when(value: str) -> date | datetime:
    """A DateSent filter value: `YYYY-MM-DD` (a whole UTC day) or an ISO 8601 instant."""
    if len(value) == 10:
        return date.fromisoformat(value)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def date_matches(sent_at: float | None, op: str, value: date | datetime) -> bool:
    if sent_at is None:  # not sent yet: no date_sent to compare
        return False
    at = datetime.fromtimestamp(sent_at, UTC)
    if op == "=" or not isinstance(value, datetime):  # a day: compare whole UTC dates
        day = value.date() if isinstance(value, datetime) else value
        return _cmp(at.date(), day, op)
    return _cmp(at, value, op)


def _cmp(a: date, b: date, op: str) -> bool:
    return a <= b if op == "<=" else a >= b if op == ">=" else a == b
