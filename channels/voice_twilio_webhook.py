"""Twilio Programmable Voice webhooks: call status and the "press 1" key, as ChannelEvents.

- `POST {prefix}/status?d=<delivery_id>`: the StatusCallback of a call (events initiated, ringing,
  answered, completed). `in-progress` (answered) → DELIVERED ("answered"); `completed` after an answer →
  DELIVERED ("answered, no key" unless a key came); `busy`, `no-answer`, `failed`, `canceled` → FAILED with
  that outcome as the reason's label (each call is its own delivery, so every attempt keeps its outcome);
  queued/initiated/ringing are progress, acknowledged and dropped.
- `POST {prefix}/gather?d=<delivery_id>`: the `<Gather>` action. `Digits=1` → a status event
  ACKNOWLEDGED for that delivery (the ack stage acknowledges it like a reply, and everything the person
  was still due stops); another key is recorded (metric, log) and ignored. Answers TwiML (a thank-you).

Both verify X-Twilio-Signature exactly as the SMS webhooks do (channels/sms_twilio_webhook.py `signed`):
missing or wrong → 403 before any field is read. `warnengine_voice_calls_total{provider,outcome}` counts
each call's end and each key press.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from aiohttp import web
from multidict import MultiDictProxy

from channels.base import ChannelEvent
from channels.sms_twilio_webhook import form_verifier
from channels.voice_twilio import NO_KEY, THANKS
from warnengine.clock import Clock, SystemClock
from warnengine.model import DeliveryState
from warnengine.obs import metrics

log = structlog.get_logger("channels.voice_twilio_webhook")

OnEvents = Callable[[list[ChannelEvent]], Awaitable[None]]

_SID = re.compile(r"CA[0-9a-fA-F]{32}")
_FAILED = {"busy": "busy", "no-answer": "no_answer", "failed": "failed", "canceled": "canceled"}
_PROGRESS = {"queued", "initiated", "ringing"}


def _say(text: str) -> web.Response:
    doc = f'<?xml version="1.0" encoding="UTF-8"?><Response><Say language="cmn-CN">{text}</Say></Response>'
    return web.Response(text=doc, content_type="text/xml")


def _fields(request: web.Request, form: MultiDictProxy[Any]) -> tuple[str, str]:
    """(delivery id, call sid), or ValueError naming the bad field."""
    delivery = request.query.get("d")
    if not delivery or len(delivery) > 200:
        raise ValueError("missing or malformed query parameter d (delivery id)")
    sid = form.get("CallSid")
    if not isinstance(sid, str) or not _SID.fullmatch(sid):
        raise ValueError("missing or malformed field CallSid")
    return delivery, sid


def twilio_voice_routes(
    auth_token: str,
    on_events: OnEvents,
    *,
    public_base: str | None = None,
    prefix: str = "/webhooks/twilio/voice",
    provider: str = "twilio-voice",
    clock: Clock | None = None,
    shared_keys: Mapping[str, str] | None = None,
) -> list[web.RouteDef]:
    verified = form_verifier(auth_token, public_base, shared_keys, "twilio_voice_webhook_forbidden")
    clk = clock or SystemClock()

    def event(delivery: str, sid: str, state: DeliveryState, reason: str) -> ChannelEvent:
        return ChannelEvent(
            provider=provider,
            kind="status",
            at=clk.now(),
            delivery_id=delivery,
            state=state,
            reason=reason,
            provider_ref=sid,
        )

    async def status(request: web.Request) -> web.Response:
        form = await verified(request)
        try:
            delivery, sid = _fields(request, form)
        except ValueError as e:
            return _bad(request, str(e))
        state = str(form.get("CallStatus", "")).lower()
        if state in _PROGRESS:
            return web.Response(status=200)
        try:
            new_state, reason, outcome = _status(state, form)
        except ValueError as e:
            return _bad(request, str(e))
        if outcome is not None:
            metrics.VOICE_CALLS.labels(provider, outcome).inc()
        await on_events([event(delivery, sid, new_state, reason)])
        log.info("voice_call_status", delivery_id=delivery, sid=sid, status=state)
        return web.Response(status=200)

    async def gather(request: web.Request) -> web.Response:
        form = await verified(request)
        try:
            delivery, sid = _fields(request, form)
        except ValueError as e:
            return _bad(request, str(e))
        digits = str(form.get("Digits", ""))
        if digits == "1":
            metrics.VOICE_CALLS.labels(provider, "confirmed").inc()
            log.info("voice_call_confirmed", delivery_id=delivery, sid=sid)
            await on_events([event(delivery, sid, DeliveryState.ACKNOWLEDGED, "pressed 1 / 按1确认")])
            return _say(THANKS)
        metrics.VOICE_CALLS.labels(provider, "other_key").inc()
        log.info("voice_call_other_key", delivery_id=delivery, sid=sid, digits=digits[:4])
        return _say(NO_KEY)

    return [web.post(f"{prefix}/status", status), web.post(f"{prefix}/gather", gather)]


def _status(state: str, form: MultiDictProxy[Any]) -> tuple[DeliveryState, str, str | None]:
    """(delivery state, reason, outcome counted or None) of a call's CallStatus past ringing."""
    if state == "in-progress":
        return DeliveryState.DELIVERED, "answered / 已接听", None
    if state == "completed":
        duration = form.get("CallDuration", "?")
        return DeliveryState.DELIVERED, f"answered: completed after {duration} s / 已接听", "answered"
    if state in _FAILED:
        outcome = _FAILED[state]
        code = form.get("ErrorCode")
        return (
            DeliveryState.FAILED,
            f"{outcome}: {state}" + (f" (twilio error {code})" if code else ""),
            outcome,
        )
    raise ValueError(f"unknown CallStatus {state!r}")


def _bad(request: web.Request, error: str) -> web.Response:
    log.warning("twilio_voice_webhook_bad_request", path=request.path, error=error)
    return web.json_response({"error": error}, status=400)
