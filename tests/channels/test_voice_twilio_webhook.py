"""Twilio Voice webhooks on their own: signatures, key presses, bad fields."""

from __future__ import annotations

from channels.voice_twilio_webhook import twilio_voice_routes
from tests.channels.conftest import App
from tests.channels.test_sms_twilio_webhook import post, sign
from tests.fakes.twilio_voice import ACCOUNT_SID
from warnengine.model import DeliveryState

SID = "CA" + "ab" * 16


def form(**kw: str) -> dict[str, str]:
    return {"AccountSid": ACCOUNT_SID, "CallSid": SID, "CallStatus": "in-progress", **kw}


async def test_bad_or_missing_signature_is_403_and_nothing_is_applied(voice_app: App) -> None:
    url = f"{voice_app.url}/webhooks/twilio/voice/gather?d=d-1"
    params = form(Digits="1")
    assert (await post(url, params, None))[0] == 403
    assert (await post(url, params, sign(url, params, "0" * 32)))[0] == 403
    other = f"{voice_app.url}/webhooks/twilio/voice/gather?d=d-2"  # signed for another delivery
    assert (await post(url, params, sign(other, params)))[0] == 403
    assert voice_app.events == []


async def test_pressing_1_acknowledges_and_another_key_does_not(voice_app: App) -> None:
    url = f"{voice_app.url}/webhooks/twilio/voice/gather?d=d-1"
    for digits in ("2", "1"):
        params = form(Digits=digits)
        status, ctype, body = await post(url, params, sign(url, params))
        assert status == 200 and ctype.startswith("text/xml") and "<Say" in body
    [e] = voice_app.events
    assert (e.delivery_id, e.state, e.provider_ref, e.provider) == (
        "d-1",
        DeliveryState.ACKNOWLEDGED,
        SID,
        "twilio-voice",
    )


async def test_bad_fields_are_400(voice_app: App) -> None:
    url = f"{voice_app.url}/webhooks/twilio/voice/status?d=d-1"
    for params in (form(CallSid="SM" + "ab" * 16), form(CallStatus="exploded")):
        assert (await post(url, params, sign(url, params)))[0] == 400
    no_d = f"{voice_app.url}/webhooks/twilio/voice/status"
    params = form()
    assert (await post(no_d, params, sign(no_d, params)))[0] == 400
    assert voice_app.events == []


def test_routes_are_the_documented_paths() -> None:
    async def sink(events: object) -> None:
        return None

    paths = {r.path for r in twilio_voice_routes("t", sink)}
    assert paths == {"/webhooks/twilio/voice/status", "/webhooks/twilio/voice/gather"}
