"""WeChat Official Account and WeCom app callbacks, as ChannelEvents.

Official Account (`wechat_oa_routes`), the "server configuration" URL:
- `GET ?signature&timestamp&nonce&echostr`: URL verification; answers `echostr` when
  `signature == sha1(sorted(token, timestamp, nonce))`.
- `POST` XML pushed by WeChat: a resident's text message → `kind="reply"` (sender = openid, `ack_hint`
  for "1", "收到", "ok"…); TEMPLATESENDJOBFINISH → `kind="status"` for the template message's MsgID
  (`provider_ref`, `sender` the openid; `success` → delivered, `failed:user block` / `failed: system
  failed` → failed "user block" / "system failed"); the ack stage maps the MsgID back to the
  delivery through deliveries.provider_ref. Plain mode checks `signature`; safe mode
  (`encrypt_type=aes`) checks `msg_signature` over the `<Encrypt>` element and decrypts it.

WeCom app (`wecom_routes`), always encrypted (WXBizMsgCrypt, receive id = CorpID):
- `GET ?msg_signature&timestamp&nonce&echostr`: answers the decrypted echostr.
- `POST`: a click on the card's "收到" button (`template_card_event` with our ack key) or a text reply →
  `kind="reply"` with the clicking / writing userid as sender.

Only a human action is an acknowledgement: menu link opens (VIEW), entering the app and template "read"
receipts are dropped. Unsigned, wrongly signed or stale (timestamp off by more than `max_skew_s`)
requests → 403; then an unreadable body → 400 with a JSON error. If handing the events on fails, 503, so
WeChat retries (it resends three times); duplicates are harmless, the ack stage is idempotent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from xml.etree.ElementTree import Element, ParseError

from aiohttp import web
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from channels.base import ChannelEvent
from channels.sms_twilio_webhook import OnEvents, is_ack
from channels.wechat_common import ACK_KEY
from channels.wechat_crypto import CryptError, WXBizMsgCrypt, verify
from warnengine.clock import Clock, SystemClock
from warnengine.model import DeliveryState
from warnengine.obs import log as obslog
from warnengine.obs import metrics

log = obslog.get("channels.wechat_webhook")


class _Reject(Exception):
    def __init__(self, status: int, verdict: str, error: str) -> None:
        super().__init__(error)
        self.status, self.verdict, self.error = status, verdict, error


def _error(provider: str, e: _Reject) -> web.Response:
    metrics.WEBHOOK_REQUESTS.labels(provider, e.verdict).inc()
    log.warning("wechat_webhook_rejected", provider=provider, verdict=e.verdict, error=e.error)
    return web.json_response({"error": e.error}, status=e.status)


def _fresh(q: Mapping[str, str], clock: Clock, max_skew_s: float) -> tuple[str, str]:
    ts, nonce = q.get("timestamp", ""), q.get("nonce", "")
    if not ts or not nonce:
        raise _Reject(403, "forged", "missing timestamp or nonce")
    try:
        t = float(ts)
    except ValueError as e:
        raise _Reject(403, "forged", "timestamp is not a number") from e
    if abs(clock.now() - t) > max_skew_s:
        raise _Reject(403, "stale", "timestamp outside the accepted window")
    return ts, nonce


def _xml(raw: bytes | str) -> Element:
    try:
        root: Element = fromstring(raw)
    except (ParseError, DefusedXmlException, ValueError) as e:
        raise _Reject(400, "malformed", f"malformed XML: {type(e).__name__}") from e
    if root.tag != "xml":
        raise _Reject(400, "malformed", "root element is not <xml>")
    return root


def _text(root: Element, tag: str) -> str:
    el = root.find(tag)
    return (el.text or "").strip() if el is not None else ""


def _decrypt(crypt: WXBizMsgCrypt, root: Element, q: Mapping[str, str], ts: str, nonce: str) -> Element:
    encrypted = _text(root, "Encrypt")
    if not encrypted:
        raise _Reject(400, "malformed", "no <Encrypt> element")
    if not verify(q.get("msg_signature"), crypt.token, ts, nonce, encrypted):
        raise _Reject(403, "forged", "msg_signature mismatch")
    try:
        return _xml(crypt.decrypt(encrypted))
    except CryptError as e:  # signed with our token but not decryptable with our key: not for us
        raise _Reject(403, "forged", f"cannot decrypt: {e}") from e


def _events(provider: str, msg: Element, clock: Clock) -> list[ChannelEvent]:
    sender, msg_type = _text(msg, "FromUserName"), _text(msg, "MsgType")
    if not sender or not msg_type:
        raise _Reject(400, "malformed", "message without FromUserName or MsgType")
    try:
        at = float(_text(msg, "CreateTime") or clock.now())
    except ValueError as e:
        raise _Reject(400, "malformed", "CreateTime is not a number") from e
    if msg_type == "text":
        text = _text(msg, "Content")
        ref = _text(msg, "MsgId") or None
        return [
            ChannelEvent(
                provider, "reply", at, sender=sender, text=text, provider_ref=ref, ack_hint=is_ack(text)
            )
        ]
    if msg_type != "event":
        return []  # images, voice, location: not an answer we can read
    event = _text(msg, "Event")
    if event == "template_card_event":
        key = _text(msg, "EventKey")
        if not key.startswith(ACK_KEY):
            return []
        ref = _text(msg, "TaskId") or None
        return [ChannelEvent(provider, "reply", at, sender=sender, text=key, provider_ref=ref, ack_hint=True)]
    if event == "TEMPLATESENDJOBFINISH":
        status, ref = _text(msg, "Status"), _text(msg, "MsgID") or _text(msg, "MsgId")
        if not ref:
            raise _Reject(400, "malformed", "TEMPLATESENDJOBFINISH without MsgID")
        # Mapped back by the MsgID stored at dispatch (deliveries.provider_ref); FromUserName is the openid
        # it went to, which the ack stage checks is that delivery's recipient.
        if status == "success":
            return [
                ChannelEvent(
                    provider, "status", at, state=DeliveryState.DELIVERED, provider_ref=ref, sender=sender
                )
            ]
        reason = status.removeprefix("failed:").strip() or "failed"
        return [
            ChannelEvent(
                provider,
                "status",
                at,
                state=DeliveryState.FAILED,
                reason=reason[:200],
                provider_ref=ref,
                sender=sender,
            )
        ]
    return []  # subscribe, VIEW (a link opened: never an ack), enter_agent, LOCATION…


async def _hand_on(provider: str, on_events: OnEvents, events: list[ChannelEvent]) -> None:
    if not events:
        metrics.WEBHOOK_REQUESTS.labels(provider, "ok").inc()
        return
    try:
        await on_events(events)
    except Exception as e:
        metrics.WEBHOOK_REQUESTS.labels(provider, "failed").inc()
        log.error("wechat_webhook_handoff_failed", provider=provider, error=repr(e))
        raise web.HTTPServiceUnavailable(
            text=json.dumps({"error": "could not record events; retry"}), content_type="application/json"
        ) from e
    metrics.WEBHOOK_REQUESTS.labels(provider, "ok").inc()


def wechat_oa_routes(
    token: str,
    on_events: OnEvents,
    *,
    appid: str | None = None,
    encoding_aes_key: str | None = None,
    path: str = "/webhooks/wechat/oa",
    provider: str = "wechat-oa",
    clock: Clock | None = None,
    max_skew_s: float = 300.0,
) -> list[web.RouteDef]:
    """Routes for an aiohttp app. `appid` + `encoding_aes_key` enable safe (encrypted) mode."""
    clk = clock or SystemClock()
    crypt = WXBizMsgCrypt(token, encoding_aes_key, appid) if (appid and encoding_aes_key) else None

    async def check(request: web.Request) -> tuple[str, str]:
        q = request.query
        ts, nonce = _fresh(q, clk, max_skew_s)
        if not verify(q.get("signature"), token, ts, nonce):
            raise _Reject(403, "forged", "signature mismatch")
        return ts, nonce

    async def get(request: web.Request) -> web.StreamResponse:
        try:
            await check(request)
        except _Reject as e:
            return _error(provider, e)
        metrics.WEBHOOK_REQUESTS.labels(provider, "ok").inc()
        return web.Response(text=request.query.get("echostr", ""), content_type="text/plain")

    async def post(request: web.Request) -> web.StreamResponse:
        try:
            ts, nonce = await check(request)
            root = _xml(await request.read())
            if request.query.get("encrypt_type") == "aes":
                if crypt is None:
                    raise _Reject(400, "malformed", "encrypted message but safe mode is not configured")
                root = _decrypt(crypt, root, request.query, ts, nonce)
            events = _events(provider, root, clk)
        except _Reject as e:
            return _error(provider, e)
        await _hand_on(provider, on_events, events)
        return web.Response(text="success", content_type="text/plain")

    return [web.get(path, get), web.post(path, post)]


def wecom_routes(
    token: str,
    encoding_aes_key: str,
    corpid: str,
    on_events: OnEvents,
    *,
    path: str = "/webhooks/wecom",
    provider: str = "wecom-app",
    clock: Clock | None = None,
    max_skew_s: float = 300.0,
) -> list[web.RouteDef]:
    """Routes for the WeCom app's "receive messages" URL (token + EncodingAESKey from its settings)."""
    clk = clock or SystemClock()
    crypt = WXBizMsgCrypt(token, encoding_aes_key, corpid)

    async def get(request: web.Request) -> web.StreamResponse:
        q = request.query
        try:
            ts, nonce = _fresh(q, clk, max_skew_s)
            echostr = q.get("echostr", "")
            if not verify(q.get("msg_signature"), token, ts, nonce, echostr):
                raise _Reject(403, "forged", "msg_signature mismatch")
            try:
                plain = crypt.decrypt(echostr)
            except CryptError as e:
                raise _Reject(403, "forged", f"cannot decrypt echostr: {e}") from e
        except _Reject as e:
            return _error(provider, e)
        metrics.WEBHOOK_REQUESTS.labels(provider, "ok").inc()
        return web.Response(text=plain, content_type="text/plain")

    async def post(request: web.Request) -> web.StreamResponse:
        q = request.query
        try:
            ts, nonce = _fresh(q, clk, max_skew_s)
            if not q.get("msg_signature"):
                raise _Reject(403, "forged", "unsigned request")
            root = _decrypt(crypt, _xml(await request.read()), q, ts, nonce)
            events = _events(provider, root, clk)
        except _Reject as e:
            return _error(provider, e)
        await _hand_on(provider, on_events, events)
        return web.Response(text="", content_type="text/plain")

    return [web.get(path, get), web.post(path, post)]
