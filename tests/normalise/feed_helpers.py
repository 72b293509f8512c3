"""Shared helpers for the native JSON feed tests."""

from __future__ import annotations

import json
from typing import Any

import pytest

from warnengine.model import HazardWarning
from warnengine.normalise import FeedError, parse_feed
from warnengine.normalise.feeds.signal_table import SignalTable


def encode(base: dict[str, Any], **changes: Any) -> bytes:
    """base with changes applied; a change to None removes the key."""
    data = {**base, **changes}
    return json.dumps({k: v for k, v in data.items() if v is not None}, ensure_ascii=False).encode()


def parse(raw: bytes, source: str, signals: SignalTable | None = None) -> HazardWarning:
    return parse_feed(raw, source, signals=signals)


def reject(raw: bytes, source: str, signals: SignalTable | None = None) -> FeedError:
    with pytest.raises(FeedError) as caught:
        parse_feed(raw, source, signals=signals)
    return caught.value
