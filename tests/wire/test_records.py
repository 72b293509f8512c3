"""Kafka records and their codecs (warnengine/wire/records.py): what producers write, consumers read."""

from __future__ import annotations

import pytest

from warnengine.errors import BadInput
from warnengine.model import DeliveryState
from warnengine.wire.records import (
    AppAck,
    ChannelEvent,
    decode_app_ack,
    decode_channel_events,
    encode,
    encode_channel_events,
)


def test_bad_channel_event_records_are_refused() -> None:
    for raw in (
        b"{}",
        b'[{"kind": "nope"}]',
        b"[1]",
        b'[{"kind": "status", "provider": "x", "at": 1, "state": "bogus"}]',
    ):
        with pytest.raises(BadInput):
            decode_channel_events(raw)
    [e] = decode_channel_events(
        b'[{"kind": "reply", "provider": "twilio", "at": 1.5, "sender": "+861", "ack_hint": true}]'
    )
    assert e.sender == "+861" and e.ack_hint


def test_channel_events_round_trip() -> None:
    events = [
        ChannelEvent("twilio", "status", 1.0, delivery_id="d-1", state=DeliveryState.DELIVERED),
        ChannelEvent("wechat-oa", "reply", 2.0, sender="oid", text="收到", ack_hint=True),
    ]
    assert decode_channel_events(encode_channel_events(events)) == events


def test_app_acks_round_trip_and_refuse_what_is_not_one() -> None:
    ack = AppAck(warning_id="w-1", person_id="p-1", at=5.0, received_at=6.0, app="app")
    assert decode_app_ack(encode(ack)) == ack
    for raw in (b"not json", b"[]", b'{"delivery_id": "d-1"}', b'{"delivery_id": "d-1", "at": "soon"}'):
        with pytest.raises(BadInput) as err:
            decode_app_ack(raw)
        assert err.value.reason == "bad_app_ack"
