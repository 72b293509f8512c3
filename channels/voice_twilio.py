"""Voice calls through Twilio Programmable Voice: the warning spoken in Mandarin, "press 1 to confirm".

One `POST /2010-04-01/Accounts/{AccountSid}/Calls.json` per delivery (HTTP Basic AccountSid:AuthToken, form
fields `To`, `From`, `Twiml`, `StatusCallback`, `StatusCallbackMethod`, `StatusCallbackEvent` repeated:
initiated, ringing, answered, completed; `Timeout` seconds of ringing). The TwiML says the text twice with
`<Say language="cmn-CN">` inside a `<Gather numDigits="1">` whose `action` is our gather webhook; the
webhooks (channels/voice_twilio_webhook.py) carry our delivery id in their signed URLs.

A landline is a valid E.164 number here: voice is the one channel that reaches people with only a fixed
line (plan/plan.py gives voice the landline when there is no mobile).

- Safe to retry: no connection was made; 429/20429 (with Retry-After).
- Ambiguous: a 5xx, a read timeout, an unreadable 201: the call may have been placed. Calling someone twice
  about a warning is less harm than an SMS storm but is still not done blindly: `code="ambiguous"`, final,
  the status callback (which names the delivery) settles it.
- Final: Twilio's 4xx codes (invalid number, no permission for the region, bad From, auth).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

import aiohttp
import structlog

from channels.base import Outgoing, SendResult
from channels.sms_text import is_e164, sms_text
from warnengine.model import Channel
from warnengine.obs import metrics

log = structlog.get_logger("warnengine.channels.voice_twilio")

API_BASE = "https://api.twilio.com"
STATUS_PATH = "/webhooks/twilio/voice/status"
GATHER_PATH = "/webhooks/twilio/voice/gather"
EVENTS = ("initiated", "ringing", "answered", "completed")
MAX_TWIML = 4000  # Twilio's limit on the Twiml parameter
PROMPT = "收到请按1。"
THANKS = "已确认，谢谢。"
NO_KEY = "未收到按键确认，稍后将再次来电。"

_FINAL: dict[int, tuple[str, bool]] = {
    21211: ("invalid_number", False),  # Invalid 'To' Phone Number
    21217: ("invalid_number", False),  # Phone number does not appear to be valid
    21215: ("region_not_enabled", True),  # Geo permissions do not allow this call
    21210: ("bad_sender", True),  # 'From' phone number not verified
    21212: ("bad_sender", True),  # invalid 'From'
    13223: ("invalid_number", False),  # dial: invalid phone number format
    20003: ("auth", True),
    20404: ("auth", True),
}


def twiml(text: str, gather_url: str | None, repeat: int = 2) -> str:
    """The call's TwiML: the text said `repeat` times and the prompt, inside a one-digit Gather (when we
    have a callback base), then a closing line if nothing was pressed. Shortened to Twilio's 4,000 chars."""
    for n in range(repeat, 0, -1):
        say = "".join(f'<Say language="cmn-CN">{escape(text)}</Say><Pause length="1"/>' for _ in range(n))
        say += f'<Say language="cmn-CN">{PROMPT}</Say>'
        if gather_url is not None:
            body = (
                f'<Gather numDigits="1" timeout="8" method="POST" action={quoteattr(gather_url)}>'
                f"{say}</Gather>"
                f'<Say language="cmn-CN">{NO_KEY}</Say>'
            )
        else:
            body = say
        doc = f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>'
        if len(doc) <= MAX_TWIML:
            return doc
    return twiml(text[: max(1, len(text) - (len(doc) - MAX_TWIML) - 10)], gather_url, 1)


class TwilioVoice:
    kind = Channel.VOICE

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_: str,
        callback_base: str | None = None,
        api_base: str = API_BASE,
        name: str = "twilio-voice",
        batch_size: int = 20,
        rate_per_s: float | None = 1.0,  # Twilio's default CPS for outbound calls
        ring_timeout_s: int = 30,
        repeat: int = 2,
        max_connections: int = 16,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
    ) -> None:
        self.name = name
        self.batch_size = batch_size
        self.rate_per_s = rate_per_s
        self._url = f"{api_base.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Calls.json"
        self._auth = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self._from = from_
        self._base = callback_base.rstrip("/") if callback_base else None
        self._ring, self._repeat = ring_timeout_s, repeat
        self._limit = max_connections
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout_s, sock_connect=connect_timeout_s, sock_read=read_timeout_s
        )
        self._session: aiohttp.ClientSession | None = None
        self._sem = asyncio.Semaphore(max_connections)

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit), timeout=self._timeout
            )

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = None

    def callback(self, path: str, delivery_id: str) -> str | None:
        return None if self._base is None else f"{self._base}{path}?d={quote(delivery_id, safe='')}"

    async def send_batch(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        await self.start()
        return list(await asyncio.gather(*(self._call(o) for o in batch)))

    def _form(self, o: Outgoing, text: str) -> list[tuple[str, str]]:
        form = [
            ("To", o.recipient),
            ("From", self._from),
            ("Twiml", twiml(text, self.callback(GATHER_PATH, o.delivery_id), self._repeat)),
            ("Timeout", str(self._ring)),
        ]
        status = self.callback(STATUS_PATH, o.delivery_id)
        if status is not None:
            form += [("StatusCallback", status), ("StatusCallbackMethod", "POST")]
            form += [("StatusCallbackEvent", e) for e in EVENTS]
        return form

    async def _call(self, o: Outgoing) -> SendResult:
        if not is_e164(o.recipient):
            return self._refused(o, "invalid_number", f"not an E.164 phone number: {o.recipient!r}")
        text = sms_text(o.body)
        if text is None:
            return self._refused(o, "bad_body", "voice body has no text")
        assert self._session is not None
        headers = {"Authorization": self._auth, "Accept": "application/json"}
        try:
            async with (
                self._sem,
                self._session.post(self._url, data=self._form(o, text), headers=headers) as resp,
            ):
                raw = await resp.read()
                status, retry_after = resp.status, resp.headers.get("Retry-After")
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as e:
            return SendResult(
                o.delivery_id, ok=False, retryable=True, code="connect_failed", reason=f"{e!r}",
                provider_fault=True,
            )  # fmt: skip
        except (TimeoutError, aiohttp.ClientError) as e:
            return self._ambiguous(o, f"request sent, no answer ({type(e).__name__})")
        return self._answer(o, status, raw, retry_after)

    def _answer(self, o: Outgoing, status: int, raw: bytes, retry_after: str | None) -> SendResult:
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        if status == 201:
            sid = body.get("sid") if isinstance(body, dict) else None
            if not isinstance(sid, str):
                return self._ambiguous(o, "unreadable 201")
            log.info("voice_call_placed", delivery_id=o.delivery_id, village=o.village_code, sid=sid)
            return SendResult(o.delivery_id, ok=True, provider_ref=sid)
        code = body.get("code") if isinstance(body, dict) else None
        code = code if isinstance(code, int) else status
        detail = f"twilio {status}/{code}: {body.get('message') if isinstance(body, dict) else ''}"
        if status == 429 or code == 20429:
            return SendResult(
                o.delivery_id, ok=False, retryable=True, code="rate_limited", reason=detail,
                retry_after_s=_seconds(retry_after),
            )  # fmt: skip
        if status >= 500:
            return self._ambiguous(o, detail)
        label, provider_fault = _FINAL.get(code, ("rejected", False))
        return self._refused(o, label, detail, provider_fault or status == 401)

    def _refused(self, o: Outgoing, code: str, reason: str, provider_fault: bool = False) -> SendResult:
        metrics.VOICE_CALLS.labels(self.name, "refused").inc()
        log.warning("voice_call_refused", delivery_id=o.delivery_id, village=o.village_code, code=code)
        return SendResult(o.delivery_id, ok=False, code=code, reason=reason, provider_fault=provider_fault)

    def _ambiguous(self, o: Outgoing, why: str) -> SendResult:
        log.warning("voice_call_ambiguous", delivery_id=o.delivery_id, village=o.village_code, why=why)
        return SendResult(o.delivery_id, ok=False, code="ambiguous", reason=f"ambiguous: {why}")


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
