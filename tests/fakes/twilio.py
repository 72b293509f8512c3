"""A local Twilio Programmable Messaging API: the contract our adapter and webhooks depend on.

`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP Basic auth (AccountSid:AuthToken), form fields
To, From / MessagingServiceSid, Body, StatusCallback, ValidityPeriod. Answers 201 with Twilio's Message JSON
(sid `SM` + 32 hex, status `queued`, or `accepted` through a Messaging Service), errors as Twilio's JSON
(`{"code", "message", "more_info", "status"}`), 401/20003 for bad credentials, 429/20429 with Retry-After.
After accepting, it POSTs status callbacks (`sent`, then `delivered` or `undelivered`) to StatusCallback,
signed with X-Twilio-Signature (HMAC-SHA1 of URL + sorted params, base64) by the account's auth token.

`GET /2010-04-01/Accounts/{AccountSid}/Messages.json` lists the account's messages newest first, as Twilio's
list resource does (`{"messages": [...], "page", "page_size", "next_page_uri", ...}`), filtered by `To`,
`From` and `DateSent` / `DateSent<` / `DateSent>` (on, on or before, on or after; a date `YYYY-MM-DD` or an
ISO 8601 instant, as the SDK sends it; a message not yet sent has no `date_sent` and matches no date
filter), `PageSize` (default 50, at most 1000) and `Page`. That is how a client resolves an ambiguous send.

`accepted[(To, Body)]` counts messages created, so tests can assert exactly-once.

Strict like Twilio:
- With a Messaging Service, an unsubscribed (21610) or invalid (21211) recipient is not refused by the
  create: the message is accepted (201, `accepted`) and fails later, reported as a `failed` status
  callback with that ErrorCode ("Messaging Services ... the request is accepted and the failure is
  reported asynchronously", https://www.twilio.com/docs/messaging/services and
  https://www.twilio.com/docs/api/errors/21610). With a From number they stay synchronous 400s.
- Webhook Rules (https://www.twilio.com/docs/usage/webhooks/webhook-shared-keys): with `shared_key` =
  (key id, secret, algorithm) set, callbacks are signed with the SharedKey secret and that algorithm and
  carry `X-Twilio-Webhooks-Signature-Settings: key=<id>,algorithm=<alg>`; the auth token no longer signs.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

import aiohttp
from aiohttp import web
from multidict import MultiDictProxy
from twilio.request_validator import RequestValidator

from tests.fakes.faults import FakeServer, Faults, drop
from tests.fakes.twilio_dates import DATE_FILTERS, date_matches, when

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fedcba9876543210" * 2  # 32 hex, like a real auth token
_E164 = re.compile(r"\+[1-9]\d{1,14}")


@dataclass(frozen=True)
class Accepted:
    sid: str
    to: str
    body: str
    at: float  # the fake's loop time when it was created
    validity_period: int | None
    status_callback: str | None


def error_body(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _validity_period(form: MultiDictProxy[Any]) -> int | None:
    """The ValidityPeriod field (None if absent); ValueError unless it is 1..36000 seconds."""
    if "ValidityPeriod" not in form:
        return None
    vp = int(str(form["ValidityPeriod"]))
    if not 1 <= vp <= 36000:
        raise ValueError(f"validity period {vp} out of range")
    return vp


class FakeTwilio(FakeServer):
    def __init__(
        self,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        *,
        faults: Faults | None = None,
        callbacks: bool = True,
        callback_delay_s: float = 0.01,
        unsubscribed: frozenset[str] = frozenset(),
        undeliverable: frozenset[str] = frozenset(),
        invalid: frozenset[str] = frozenset({"+15005550001"}),  # Twilio's magic "invalid number"
    ) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self._create)
        app.router.add_get("/2010-04-01/Accounts/{account}/Messages.json", self._list)
        app.router.add_get("/2010-04-01/Accounts/{account}.json", self._account)
        # Not Twilio's: lets a benchmark in another process read and reset the counts.
        app.router.add_get("/_fake/stats", self._stats)
        app.router.add_post("/_fake/reset", self._reset)
        super().__init__(app)
        self.account_sid, self.auth_token = account_sid, auth_token
        self.faults = faults or Faults()
        self.callbacks = callbacks
        self.callback_delay_s = callback_delay_s
        self.unsubscribed, self.undeliverable, self.invalid = unsubscribed, undeliverable, invalid
        self.accepted: Counter[tuple[str, str]] = Counter()
        self.log: list[Accepted] = []
        self.messages: dict[str, dict[str, Any]] = {}  # sid → the Message resource as Twilio shows it
        self._sent_at: dict[str, float] = {}  # sid → wall time it went to the carrier (date_sent)
        self.lookups = 0
        self.requests = 0
        self.responses: Counter[int] = Counter()
        self.callback_failures: list[str] = []
        self._auth = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self._validator = RequestValidator(auth_token)
        self.shared_key: tuple[str, str, str] | None = None  # (key id, secret, algorithm): Webhook Rules
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> FakeTwilio:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        await self.stop()

    def _reply(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> web.Response:
        self.responses[status] += 1
        return web.json_response(body, status=status, headers=headers)

    def _error(self, code: int, message: str, status: int = 400, **headers: str) -> web.Response:
        return self._reply(status, error_body(code, message, status), headers or None)

    async def _create(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        f = self.faults
        if f.latency_s:
            await asyncio.sleep(f.latency_s)
        refused = self._refused(request)
        if refused is not None:
            return refused
        form = await request.post()
        to, body = str(form.get("To", "")), str(form.get("Body", ""))
        sender, service = form.get("From"), form.get("MessagingServiceSid")
        invalid = self._invalid(to, body, sender, service)
        late = invalid is not None and service and self._late_code(to) is not None
        if invalid is not None and not late:
            return invalid
        try:
            vp = _validity_period(form)
        except ValueError:
            return self._error(90007, "Invalid validity period value")
        callback = str(form["StatusCallback"]) if form.get("StatusCallback") else None
        sid = "SM" + secrets.token_hex(16)
        self.accepted[(to, body)] += 1
        self.log.append(Accepted(sid, to, body, asyncio.get_running_loop().time(), vp, callback))
        message = self._message(sid, to, str(sender or ""), str(service or ""), body)
        self.messages[sid] = message
        if callback and self.callbacks:
            self._spawn(self._callbacks(sid, to, str(sender or ""), str(service or ""), callback))
        # Created, then the client gets no success: it cannot know without looking the message up.
        after = f.after_create()
        if after == "error":
            return self._error(20500, "Internal Server Error", f.error_status)
        if after == "drop":
            return await drop(request, f.hang_s)
        if after == "hang":
            await asyncio.sleep(f.hang_s)
        return self._reply(201, message)

    async def _account(self, request: web.Request) -> web.Response:
        """The Account resource: the cheapest authenticated read (`status` active)."""
        refused = self._refused(request)
        if refused is not None:
            return refused
        return self._reply(200, {"sid": self.account_sid, "status": "active", "type": "Full"})

    async def _list(self, request: web.Request) -> web.Response:
        """Twilio's Messages list resource: newest first, filtered and paged."""
        self.lookups += 1
        if request.headers.get("Authorization") != self._auth or request.match_info["account"] != (
            self.account_sid
        ):
            return self._error(20003, "Authenticate", 401, **{"WWW-Authenticate": 'Basic realm="Twilio API"'})
        if self.faults.lookup_error():
            return self._error(20500, "Internal Server Error", 500)
        q = request.query
        try:
            size = min(int(q.get("PageSize", "50")), 1000)
            page = int(q.get("Page", "0"))
            dates = {op: when(q[k]) for k, op in DATE_FILTERS.items() if k in q}
        except ValueError:
            return self._error(20001, "Invalid parameter")
        found = [
            m
            for sid, m in reversed(self.messages.items())
            if q.get("To", m["to"]) == m["to"]
            and q.get("From", m["from"]) == m["from"]
            and all(date_matches(self._sent_at.get(sid), op, v) for op, v in dates.items())
        ]
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        items = found[page * size : (page + 1) * size]
        more = (page + 1) * size < len(found)
        return self._reply(
            200,
            {
                "messages": items,
                "end": page * size + max(len(items) - 1, 0),
                "first_page_uri": f"{uri}?PageSize={size}&Page=0",
                "next_page_uri": f"{uri}?PageSize={size}&Page={page + 1}" if more else None,
                "page": page,
                "page_size": size,
                "previous_page_uri": f"{uri}?PageSize={size}&Page={page - 1}" if page else None,
                "start": page * size,
                "uri": f"{uri}?PageSize={size}&Page={page}",
            },
        )

    def _refused(self, request: web.Request) -> web.Response | None:
        """Bad credentials, a storm or an injected server error, before the form is read."""
        f = self.faults
        if request.headers.get("Authorization") != self._auth or request.match_info["account"] != (
            self.account_sid
        ):
            return self._error(20003, "Authenticate", 401, **{"WWW-Authenticate": 'Basic realm="Twilio API"'})
        if f.in_storm(self.elapsed(), self.requests - 1):
            return self._error(20429, "Too Many Requests", 429, **{"Retry-After": str(f.retry_after_s)})
        if f.error():
            if f.error_status == 503:
                return self._error(20503, "Service Unavailable", 503)
            return self._error(20500, "Internal Server Error", f.error_status)
        return None

    def _invalid(self, to: str, body: str, sender: Any, service: Any) -> web.Response | None:
        """Twilio's answer to a message it will not create, in the order Twilio checks."""
        if not to:
            return self._error(21604, "A 'To' phone number is required.")
        if not sender and not service:
            return self._error(21603, "A 'From' phone number is required.")
        if not body:
            return self._error(21602, "Message body is required.")
        if not _E164.fullmatch(to) or to in self.invalid:
            return self._error(21211, f"Invalid 'To' Phone Number: {to}")
        if to in self.unsubscribed:
            return self._error(21610, "Attempt to send to unsubscribed recipient")
        if len(body) > 1600:
            return self._error(21617, "The concatenated message body exceeds the 1600 character limit.")
        return None

    def _message(self, sid: str, to: str, sender: str, service: str, body: str) -> dict[str, Any]:
        now = formatdate(usegmt=True)
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender or None,
            "messaging_service_sid": service or None,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {
                "media": f"{uri}/Media.json",
                "feedback": f"{uri}/Feedback.json",
            },
            "to": to,
            "uri": f"{uri}.json",
        }

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "requests": self.requests,
                "accepted": sum(self.accepted.values()),
                "duplicates": sum(n - 1 for n in self.accepted.values() if n > 1),
                "arrivals": [a.at for a in self.log] if "arrivals" in request.query else [],
            }
        )

    async def _reset(self, request: web.Request) -> web.Response:
        self.accepted.clear()
        self.log.clear()
        self.messages.clear()
        self._sent_at.clear()
        self.requests = 0
        self.responses.clear()
        return web.json_response({})

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _callbacks(self, sid: str, to: str, sender: str, service: str, url: str) -> None:
        await asyncio.sleep(self.callback_delay_s)
        common = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "From": sender,
            "MessageSid": sid,
            "SmsSid": sid,
            "To": to,
        }
        if service:
            common["MessagingServiceSid"] = service
        final = {"MessageStatus": "delivered", "SmsStatus": "delivered"}
        late = self._late_code(to) if service else None
        if late is not None:  # a Messaging Service reports these after accepting
            self._advance(sid, "failed")
            await self.post_signed(url, {**common, "MessageStatus": "failed", "ErrorCode": late})
            return
        if to in self.undeliverable:
            final = {"MessageStatus": "undelivered", "SmsStatus": "undelivered", "ErrorCode": "30003"}
        for params in ({"MessageStatus": "sent", "SmsStatus": "sent"}, final):
            self._advance(sid, params["MessageStatus"])
            await self.post_signed(url, {**common, **params})

    def _late_code(self, to: str) -> str | None:
        if not _E164.fullmatch(to) or to in self.invalid:
            return "21211"
        return "21610" if to in self.unsubscribed else None

    def _advance(self, sid: str, status: str) -> None:
        """The Message resource follows its callbacks: status, and date_sent once sent."""
        m = self.messages.get(sid)
        if m is None:
            return
        m["status"] = status
        m["date_updated"] = formatdate(usegmt=True)
        if status == "sent":
            self._sent_at[sid] = datetime.now(UTC).timestamp()
            m["date_sent"] = m["date_updated"]

    async def post_signed(self, url: str, params: dict[str, str], signature: str | None = None) -> int:
        """POST a form the way Twilio calls a webhook; returns the HTTP status (0: not reachable)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {}
        if self.shared_key is not None:
            key_id, secret, alg = self.shared_key
            sig = RequestValidator(secret).compute_signature(url, params, alg)
            headers["X-Twilio-Webhooks-Signature-Settings"] = f"key={key_id},algorithm={alg}"
        else:
            sig = self._validator.compute_signature(url, params)
        headers["X-Twilio-Signature"] = sig if signature is None else signature
        try:
            async with self._session.post(url, data=params, headers=headers) as r:
                await r.read()
                if r.status >= 300:
                    self.callback_failures.append(f"{r.status} {url}")
                return r.status
        except aiohttp.ClientError as e:
            self.callback_failures.append(f"{e!r} {url}")
            return 0

    async def inbound(self, url: str, from_: str, body: str, to: str = "+15005550006") -> int:
        """An inbound SMS (a resident's reply) delivered to our messaging webhook."""
        sid = "SM" + secrets.token_hex(16)
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "Body": body,
            "From": from_,
            "MessageSid": sid,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": to,
        }
        return await self.post_signed(url, params)
