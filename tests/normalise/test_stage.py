"""The normalise stage with its policy (trust, size limit) against a real database."""

from __future__ import annotations

from pathlib import Path

import pytest

from warnengine.db.store import Store
from warnengine.errors import BadInput
from warnengine.normalise import FeedError, TrustStore
from warnengine.normalise.stage import FeedPolicy, accept_feed

SAMPLES = Path(__file__).parent / "samples"
TRUST = Path(__file__).parents[2] / "config" / "trust.yaml"
IPAWS = SAMPLES / "us_ipaws-5e6dd9de023f1930ef6548d9_cancel_signed.xml"


async def test_signed_cancel_from_a_trusted_sender_is_accepted(store: Store) -> None:
    policy = FeedPolicy(trust=TrustStore.load(TRUST))
    w, verdict = await accept_feed(IPAWS.read_bytes(), "manual", store, policy)
    assert verdict == "cancel"
    assert await store.warning_state(w.warning_id, w.version) == "accepted"  # live: it becomes `stop`


async def test_tampered_signed_message_is_refused_and_nothing_recorded(store: Store) -> None:
    raw = IPAWS.read_bytes().replace(b"<status>Actual</status>", b"<status>Exercise</status>")
    assert raw != IPAWS.read_bytes()
    with pytest.raises(FeedError) as err:
        await accept_feed(raw, "manual", store, FeedPolicy(trust=TrustStore.load(TRUST)))
    assert err.value.reason == "signature_invalid"


async def test_oversized_message_refused_unread(store: Store) -> None:
    with pytest.raises(BadInput) as err:
        await accept_feed(b"<" + b"x" * 2000, "meteo", store, FeedPolicy(max_bytes=1000))
    assert err.value.reason == "too_large"
