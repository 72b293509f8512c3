"""The local Twilio fake with the Programmable Voice Calls resource: what our voice adapter and webhooks need.

`POST /2010-04-01/Accounts/{AccountSid}/Calls.json`, HTTP Basic auth like Messages (401/20003; storms of
429/20429 with Retry-After and injected 5xx from the same `Faults`), form fields `To` (E.164, else 400/21211),
`From` (required, 400/21213), `Twiml` (or `Url`; neither → 400/21205; over 4,000 characters → 400/21236;
not well-formed XML → 400/12100), `StatusCallback`, `StatusCallbackMethod`, `StatusCallbackEvent`
(repeated), `Timeout`. Answers 201 with the Call resource (sid `CA` + 32 hex, status `queued`).

Then, per the outcome injected for the number (`outcomes[To]`: one outcome, or a list used one per call,
the last one repeating; `default_outcome` otherwise), it plays the call like Twilio and POSTs signed
callbacks (X-Twilio-Signature, by the inherited `post_signed`) to StatusCallback for the events asked for:
`initiated`, `ringing`, then
- "busy" / "no-answer" / "failed": the final CallStatus of that name (the `completed` event);
- "answered" (picked up, hung up without a key), "press1", "press2" (any other key): `in-progress`
  (`answered` event), then for a key the `<Gather>` action is POSTed with `Digits`, then `completed`
  with `CallDuration`.
`calls` keeps every Call created (with its TwiML and outcome), `gathers` the action answers (TwiML).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

__all__ = ["ACCOUNT_SID", "AUTH_TOKEN", "OUTCOMES", "FakeTwilioVoice", "PlacedCall"]

OUTCOMES = ("busy", "no-answer", "failed", "answered", "press1", "press2")
_E164 = re.compile(r"\+[1-9]\d{1,14}")


@dataclass
class PlacedCall:
    sid: str
    to: str
    from_: str
    twiml: str
    outcome: str
    status_callback: str | None
    events: tuple[str, ...]
    statuses: list[str] = field(default_factory=list)  # CallStatus values posted, in order

    def said(self) -> list[str]:
        """The texts of every <Say language="cmn-CN"> in the TwiML."""
        root = ET.fromstring(self.twiml)
        return [e.text or "" for e in root.iter("Say") if e.get("language") == "cmn-CN"]

    def gather_action(self) -> str | None:
        g = ET.fromstring(self.twiml).find("Gather")
        return None if g is None else g.get("action")


class FakeTwilioVoice(FakeTwilio):
    def __init__(
        self,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        *,
        outcomes: dict[str, str | list[str]] | None = None,
        default_outcome: str = "press1",
        **kw: Any,
    ) -> None:
        super().__init__(account_sid, auth_token, **kw)
        self.app.router.add_post("/2010-04-01/Accounts/{account}/Calls.json", self._create_call)
        self.outcomes: dict[str, str | list[str]] = dict(outcomes or {})
        self.default_outcome = default_outcome
        self.calls: dict[str, PlacedCall] = {}
        self.gathers: list[tuple[int, str]] = []  # (HTTP status, body) of each Gather action POST

    async def __aenter__(self) -> FakeTwilioVoice:
        await self.start()
        return self

    def _outcome(self, to: str) -> str:
        o = self.outcomes.get(to, self.default_outcome)
        if isinstance(o, list):
            return o.pop(0) if len(o) > 1 else o[0]
        return o

    async def _create_call(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if self.faults.latency_s:
            await asyncio.sleep(self.faults.latency_s)
        refused = self._refused(request)
        if refused is not None:
            return refused
        form = await request.post()
        to, from_ = str(form.get("To", "")), str(form.get("From", ""))
        doc = str(form.get("Twiml", ""))
        if not _E164.fullmatch(to) or to in self.invalid:
            return self._error(21211, f"The 'To' number {to} is not a valid phone number.")
        if not from_:
            return self._error(21213, "Caller phone number is required")
        if not doc and not form.get("Url"):
            return self._error(21205, "Url parameter is required.")
        if len(doc) > 4000:
            return self._error(21236, "Twiml parameter exceeds 4000 characters")
        try:
            ET.fromstring(doc)
        except ET.ParseError:
            return self._error(12100, "Document parse failure")
        sid = "CA" + secrets.token_hex(16)
        callback = str(form["StatusCallback"]) if form.get("StatusCallback") else None
        events = tuple(str(e) for e in form.getall("StatusCallbackEvent", [])) or ("completed",)
        call = PlacedCall(sid, to, from_, doc, self._outcome(to), callback, events)
        self.calls[sid] = call
        if self.callbacks:
            self._spawn(self._play(call))
        return self._reply(201, self._resource(call, "queued"))

    def _resource(self, call: PlacedCall, status: str) -> dict[str, Any]:
        now = formatdate(usegmt=True)
        return {
            "sid": call.sid,
            "account_sid": self.account_sid,
            "to": call.to,
            "to_formatted": call.to,
            "from": call.from_,
            "from_formatted": call.from_,
            "status": status,
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "date_created": now,
            "date_updated": now,
            "start_time": None,
            "end_time": None,
            "duration": None,
            "price": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Calls/{call.sid}.json",
        }

    def _params(self, call: PlacedCall, status: str) -> dict[str, str]:
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": call.sid,
            "CallStatus": status,
            "Called": call.to,
            "Caller": call.from_,
            "Direction": "outbound-api",
            "From": call.from_,
            "To": call.to,
        }

    async def _status(self, call: PlacedCall, event: str, status: str, **extra: str) -> None:
        call.statuses.append(status)
        if call.status_callback and event in call.events:
            seq = str(len(call.statuses) - 1)
            params = {**self._params(call, status), "SequenceNumber": seq, **extra}
            params["CallbackSource"] = "call-progress-events"
            await self.post_signed(call.status_callback, params)

    async def _play(self, call: PlacedCall) -> None:
        await asyncio.sleep(self.callback_delay_s)
        await self._status(call, "initiated", "initiated")
        if call.outcome == "failed":
            await self._status(call, "completed", "failed", ErrorCode="13224")
            return
        await self._status(call, "ringing", "ringing")
        if call.outcome in ("busy", "no-answer"):
            await self._status(call, "completed", call.outcome)
            return
        await self._status(call, "answered", "in-progress")
        action = call.gather_action()
        if call.outcome.startswith("press") and action is not None:
            params = {**self._params(call, "in-progress"), "Digits": call.outcome[5:], "FinishedOnKey": ""}
            await self._gather(action, params)
        await self._status(call, "completed", "completed", CallDuration="21")

    async def _gather(self, url: str, params: dict[str, str]) -> None:
        """The <Gather> action, signed like every webhook; its TwiML answer is kept in `gathers`."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"X-Twilio-Signature": self._validator.compute_signature(url, params)}
        try:
            async with self._session.post(url, data=params, headers=headers) as r:
                self.gathers.append((r.status, await r.text()))
        except aiohttp.ClientError as e:
            self.callback_failures.append(f"{e!r} {url}")
