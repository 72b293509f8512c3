"""Twilio webhooks: message status callbacks and inbound SMS (residents' replies), as ChannelEvents.

- `POST {prefix}/status?d=<delivery_id>`: the StatusCallback the adapter sets per message. Our delivery id
  is in the URL, which Twilio signs, so a callback maps to its delivery without a lookup and cannot be
  redirected to another one. sent → SENT, delivered/read → DELIVERED, undelivered/failed/canceled →
  FAILED (with Twilio's ErrorCode); queued/accepted/sending/scheduled are progress, acknowledged and dropped.
- `POST {prefix}/inbound`: the number's messaging webhook. Every reply becomes `kind="reply"` with its
  text and sender; `ack_hint` says whether it is one of the usual acknowledgements ("1", "收到", "ok"…),
  the ack stage decides. Answers empty TwiML (no auto-reply).

Both verify X-Twilio-Signature (HMAC of the URL Twilio called + the sorted form fields) with the SDK's
RequestValidator: missing or wrong → 403 before any field is read. Without
X-Twilio-Webhooks-Signature-Settings the key is the auth token and the hash SHA-1; with it (a Webhook Rule
signs with a SharedKey, https://www.twilio.com/docs/usage/webhooks/webhook-shared-keys) the key is that
SharedKey's secret, looked up by the header's `key=` id in `shared_keys` (several, for a rotation), and the
hash the header's `algorithm`; an unknown key id → 403.

A `failed`/`undelivered` callback's ErrorCode is labelled like a synchronous refusal (channels/sms_twilio.py
error_label): with a Messaging Service, 21610 (unsubscribed) and 21211 (invalid number) arrive only this
way, so the reason starts with the same label ("unsubscribed: failed (twilio error 21610)"). Then bad
fields → 400 with a JSON error. The URL is rebuilt from the configured public base + the raw path, since
behind a proxy the URL the app sees is not the one Twilio signed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from aiohttp import web
from multidict import MultiDictProxy
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator, get_signature_algorithm

from channels.base import ChannelEvent
from channels.sms_twilio import error_label
from warnengine.clock import Clock, SystemClock
from warnengine.model import DeliveryState

log = structlog.get_logger("channels.sms_twilio_webhook")

OnEvents = Callable[[list[ChannelEvent]], Awaitable[None]]

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")
_STATES = {
    "sent": DeliveryState.SENT,
    "delivered": DeliveryState.DELIVERED,
    "read": DeliveryState.DELIVERED,
    "undelivered": DeliveryState.FAILED,
    "failed": DeliveryState.FAILED,
    "canceled": DeliveryState.FAILED,
}
_PROGRESS = {"queued", "accepted", "sending", "scheduled", "receiving", "received", "partially_delivered"}
# Compared after NFKC (full-width "１", "ＯＫ") and casefold, with surrounding spaces and punctuation gone.
ACK_WORDS = frozenset(
    {
        "1",
        "y",
        "yes",
        "ok",
        "okay",
        "收到",
        "已收到",
        "收到了",
        "好",
        "好的",
        "知道",
        "知道了",
        "明白",
        "确认",
    }
)
_PUNCT = " \t\r\n。！!.,，~～、;；:："


def is_ack(text: str) -> bool:
    return unicodedata.normalize("NFKC", text).strip(_PUNCT).casefold() in ACK_WORDS


class _BadField(Exception):
    pass


def _field(form: MultiDictProxy[Any], name: str, pattern: re.Pattern[str] | None = None) -> str:
    value = form.get(name)
    if not isinstance(value, str) or not value:
        raise _BadField(f"missing field {name}")
    if pattern is not None and not pattern.fullmatch(value):
        raise _BadField(f"malformed field {name}")
    return value


def _status_fields(request: web.Request, form: MultiDictProxy[Any]) -> tuple[str, str, str, Any]:
    """(delivery id, message sid, lower-cased status, error code or None) of a status callback."""
    delivery = request.query.get("d")
    if not delivery or len(delivery) > 200:
        raise _BadField("missing or malformed query parameter d (delivery id)")
    sid = _field(form, "MessageSid", _SID)
    state = _field(form, "MessageStatus").lower()
    code = form.get("ErrorCode")
    if code is not None and not str(code).isdigit():
        raise _BadField("malformed field ErrorCode")
    if state not in _STATES and state not in _PROGRESS:
        raise _BadField(f"unknown MessageStatus {state!r}")
    return delivery, sid, state, code


def _reply_fields(form: MultiDictProxy[Any]) -> tuple[str, str, str]:
    """(message sid, sender, text) of an inbound SMS; the text may be empty."""
    sid = _field(form, "MessageSid", _SID)
    sender = _field(form, "From")
    text = form.get("Body")
    if not isinstance(text, str):
        raise _BadField("missing field Body")
    return sid, sender, text


def twilio_routes(
    auth_token: str,
    on_events: OnEvents,
    *,
    public_base: str | None = None,
    prefix: str = "/webhooks/twilio",
    provider: str = "twilio",
    clock: Clock | None = None,
    shared_keys: Mapping[str, str] | None = None,  # SharedKey id → secret (Webhook Rules signing)
) -> list[web.RouteDef]:
    """Routes for an aiohttp app; `public_base` is the scheme://host[:port] Twilio is given for us."""
    verified = form_verifier(auth_token, public_base, shared_keys, "twilio_webhook_forbidden")
    clk = clock or SystemClock()

    async def deliver(events: list[ChannelEvent]) -> None:
        if events:
            await on_events(events)

    async def status(request: web.Request) -> web.Response:
        form = await verified(request)
        try:
            delivery, sid, state, code = _status_fields(request, form)
        except _BadField as e:
            return _bad(request, str(e))
        if state in _STATES:
            reason = _failure(state, code) if _STATES[state] is DeliveryState.FAILED else None
            await deliver(
                [
                    ChannelEvent(
                        provider=provider,
                        kind="status",
                        at=clk.now(),
                        delivery_id=delivery,
                        state=_STATES[state],
                        reason=reason,
                        provider_ref=sid,
                    )
                ]
            )
        return web.Response(status=200)

    async def inbound(request: web.Request) -> web.Response:
        form = await verified(request)
        try:
            sid, sender, text = _reply_fields(form)
        except _BadField as e:
            return _bad(request, str(e))
        event = ChannelEvent(
            provider=provider,
            kind="reply",
            at=clk.now(),
            sender=sender,
            text=text,
            provider_ref=sid,
            ack_hint=is_ack(text),
        )
        await deliver([event])
        return web.Response(text=EMPTY_TWIML, content_type="text/xml")

    return [web.post(f"{prefix}/status", status), web.post(f"{prefix}/inbound", inbound)]


def form_verifier(
    auth_token: str, public_base: str | None, shared_keys: Mapping[str, str] | None, forbidden_event: str
) -> Callable[[web.Request], Awaitable[MultiDictProxy[Any]]]:
    """The request's form once its X-Twilio-Signature checks out against the URL Twilio was given
    (`public_base` + path, behind a proxy) — else 403, logged as `forbidden_event`. SMS and voice alike."""
    validator = RequestValidator(auth_token)
    base = public_base.rstrip("/") if public_base else None

    async def verified(request: web.Request) -> MultiDictProxy[Any]:
        signature = request.headers.get(SIGNATURE_HEADER)
        form = await request.post()
        url = f"{base}{request.raw_path}" if base else str(request.url)
        settings = request.headers.get("X-Twilio-Webhooks-Signature-Settings")
        if not signature or not signed(validator, shared_keys or {}, settings, url, form, signature):
            log.warning(forbidden_event, path=request.path, signed=bool(signature))
            raise web.HTTPForbidden(
                text='{"error": "invalid X-Twilio-Signature"}', content_type="application/json"
            )
        return form

    return verified


def signed(
    validator: RequestValidator,
    shared_keys: Mapping[str, str],
    settings: str | None,
    url: str,
    form: MultiDictProxy[Any],
    signature: str,
) -> bool:
    """The auth token's signature, or, with a Signature-Settings header, the named SharedKey's."""
    check = validator
    if settings:
        key_id = _shared_key_id(settings)
        secret = shared_keys.get(key_id or "")
        if secret is None:
            log.warning("twilio_webhook_unknown_shared_key", key_id=key_id)
            return False
        check = RequestValidator(secret)
    try:
        return bool(check.validate(url, form, signature, get_signature_algorithm(settings)))
    except ValueError:  # an algorithm the SDK does not know
        return False


def _failure(state: str, code: Any) -> str:
    label = error_label(int(code))[0] if code is not None else "failed"
    return f"{label}: {state} (twilio error {code})"


def _shared_key_id(settings: str) -> str | None:
    for part in settings.split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip() == "key":
            return value.strip()
    return None


def _bad(request: web.Request, error: str) -> web.Response:
    log.warning("twilio_webhook_bad_request", path=request.path, error=error)
    return web.json_response({"error": error}, status=400)
