"""Provider callbacks mounted on the API app when their secret is configured, events onto Kafka."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from twilio.request_validator import RequestValidator

from tests.api.conftest import RecordingPublisher, api_settings
from warnengine.api.app import create_app
from warnengine.db.store import Store
from warnengine.model import DeliveryState
from warnengine.wire import topics
from warnengine.wire.records import decode_channel_events

TOKEN = "twilio-test-token"


async def test_twilio_status_callback_becomes_a_channel_event(sqlite_store: Store, tmp_path: Path) -> None:
    publisher = RecordingPublisher()
    env = {"TWILIO_AUTH_TOKEN": TOKEN, "WARNENGINE_PUBLIC_URL": "https://warn.example.gov.cn"}
    app = create_app(sqlite_store, api_settings(tmp_path), publisher, env=env)
    form = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered"}
    path = "/webhooks/twilio/status?d=dl-1"
    signature = RequestValidator(TOKEN).compute_signature("https://warn.example.gov.cn" + path, form)
    async with TestClient(TestServer(app)) as client:
        async with client.post(path, data=form, headers={"X-Twilio-Signature": "forged"}) as r:
            assert r.status == 403  # the provider's answer, not rewritten
        async with client.post(path, data=form, headers={"X-Twilio-Signature": signature}) as r:
            assert r.status == 200, await r.text()
    [(topic, key, value)] = publisher.sent
    assert (topic, key) == (topics.CHANNEL_EVENTS, None)
    [event] = json.loads(value)
    assert (event["delivery_id"], event["state"], event["provider"]) == ("dl-1", "delivered", "twilio")
    [parsed] = decode_channel_events(value)  # what the pipeline's consumer reads back
    assert (parsed.delivery_id, parsed.state, parsed.kind) == ("dl-1", DeliveryState.DELIVERED, "status")


async def test_a_key_press_on_a_call_is_published_as_an_acknowledgement(
    sqlite_store: Store, tmp_path: Path
) -> None:
    publisher = RecordingPublisher()
    env = {"TWILIO_AUTH_TOKEN": TOKEN, "WARNENGINE_PUBLIC_URL": "https://warn.example.gov.cn"}
    app = create_app(sqlite_store, api_settings(tmp_path), publisher, env=env)
    form = {"CallSid": "CA" + "b" * 32, "CallStatus": "in-progress", "Digits": "1"}
    path = "/webhooks/twilio/voice/gather?d=dl-2"
    signature = RequestValidator(TOKEN).compute_signature("https://warn.example.gov.cn" + path, form)
    async with TestClient(TestServer(app)) as client:
        async with client.post(path, data=form, headers={"X-Twilio-Signature": "forged"}) as r:
            assert r.status == 403
        async with client.post(path, data=form, headers={"X-Twilio-Signature": signature}) as r:
            assert r.status == 200, await r.text()
    [(topic, _, value)] = publisher.sent
    [parsed] = decode_channel_events(value)
    assert topic == topics.CHANNEL_EVENTS
    assert (parsed.delivery_id, parsed.state, parsed.provider) == (
        "dl-2",
        DeliveryState.ACKNOWLEDGED,
        "twilio-voice",
    )


async def test_no_secret_no_route(sqlite_store: Store, tmp_path: Path) -> None:
    app = create_app(sqlite_store, api_settings(tmp_path), RecordingPublisher(), env={})
    async with TestClient(TestServer(app)) as client, client.post("/webhooks/twilio/status") as r:
        assert r.status == 404


async def test_tencent_reports_need_the_path_token(sqlite_store: Store, tmp_path: Path) -> None:
    publisher = RecordingPublisher()
    token = "t" * 24
    app = create_app(
        sqlite_store, api_settings(tmp_path), publisher, env={"TENCENT_SMS_CALLBACK_TOKEN": token}
    )
    report = {"nationcode": "86", "mobile": "13800000001", "report_status": "SUCCESS", "sid": "2028:1"}
    async with TestClient(TestServer(app)) as client:
        async with client.post(f"/webhooks/tencent-sms/{'x' * 24}/status", json=[report]) as r:
            assert r.status == 403
        async with client.post(f"/webhooks/tencent-sms/{token}/status", json=[report]) as r:
            assert r.status == 200 and (await r.json()) == {"result": 0, "errmsg": "OK"}
    [(topic, _, value)] = publisher.sent
    [parsed] = decode_channel_events(value)
    assert (topic, parsed.provider, parsed.provider_ref, parsed.sender, parsed.state) == (
        topics.CHANNEL_EVENTS, "tencent", "2028:1", "+8613800000001", DeliveryState.DELIVERED
    )  # fmt: skip
    short = create_app(
        sqlite_store, api_settings(tmp_path), publisher, env={"TENCENT_SMS_CALLBACK_TOKEN": "abc"}
    )
    async with TestClient(TestServer(short)) as client, client.post("/webhooks/tencent-sms/abc/status") as r:
        assert r.status == 404  # a guessable token mounts nothing


async def test_tencent_voice_callbacks_need_the_path_token(sqlite_store: Store, tmp_path: Path) -> None:
    publisher = RecordingPublisher()
    token = "v" * 24
    app = create_app(
        sqlite_store, api_settings(tmp_path), publisher, env={"TENCENT_VOICE_CALLBACK_TOKEN": token}
    )
    key = {
        "voicekey_callback": {"callid": "c-9", "keypress": "1", "mobile": "13800000001", "nationcode": "86"}
    }
    async with TestClient(TestServer(app)) as client:
        async with client.post(f"/webhooks/tencent-voice/{'x' * 24}/callback", json=key) as r:
            assert r.status == 403
        async with client.post(f"/webhooks/tencent-voice/{token}/callback", json=key) as r:
            assert r.status == 200 and (await r.json()) == {"result": 0, "errmsg": "OK"}
    [(_, _, value)] = publisher.sent
    [parsed] = decode_channel_events(value)
    assert (parsed.provider, parsed.provider_ref, parsed.sender, parsed.state) == (
        "tencent-voice", "c-9", "+8613800000001", DeliveryState.ACKNOWLEDGED
    )  # fmt: skip
