"""Local WeChat Official Account + WeCom APIs (one server, real paths), and signed callbacks for tests.

OA (api.weixin.qq.com): `GET /cgi-bin/token`, `POST /cgi-bin/stable_token`,
`POST /cgi-bin/message/template/send`,
`POST /cgi-bin/message/subscribe/bizsend`. WeCom (qyapi.weixin.qq.com): `GET /cgi-bin/gettoken`,
`POST /cgi-bin/message/send`, `POST /cgi-bin/webhook/send?key=` (group robot, 20 messages/min per key).
Answers are HTTP 200 with `{"errcode", "errmsg", …}` like WeChat's; token errors 40001/40014/42001;
rate limits as errcode 45011 (OA, per minute) or 45009 (WeCom; and the OA's daily quota), as WeChat sends
them rather than HTTP 429. Tokens expire on the injected clock.

Strict like WeChat:
- `GET /cgi-bin/token` (https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Get_access_token.html):
  each fetch issues a new token, and the previous ones stay valid only 5 more minutes (on the injected
  clock): several processes fetching independently invalidate each other (40001).
- `POST /cgi-bin/stable_token` (https://developers.weixin.qq.com/doc/service/api/base/api_getstableaccesstoken):
  JSON `{grant_type, appid, secret, force_refresh}`; isolated from `/cgi-bin/token`. Normal mode returns the
  current token while it is valid ("有效期内重复调用该接口不会更新"), and a new one in its last 5 minutes
  with the old one still valid to its end; `force_refresh` invalidates the current one (20 a day).
- template/subscription `data` values are checked per key type (tests/fakes/wechat_oa_rules.py): 47003.
- WeCom `POST /cgi-bin/message/send` (https://developer.work.weixin.qq.com/document/path/90236): the
  duplicate check drops "同样内容(请求json)的消息" within `duplicate_check_interval` — the same request
  JSON, so the fake keys it on the whole body (a resend to a different `touser` list is not a duplicate
  and is delivered again). With `workbench_home` (the app set to open its home page in the WeChat
  plugin, 微工作台) a user on WeChat receives text only, cut to 20 bytes: `plugin_seen[userid]` keeps
  what they saw.

Template receipts: with `oa_callback` (our OA callback URL) and `oa_callback_token` set, each template
message sent is followed by the TEMPLATESENDJOBFINISH event WeChat pushes (plain mode, signed with the
token; https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Template_Message_Interface.html
"事件推送"): `MsgID` the send's msgid, `Status` `success`, `failed:user block` for openids in `blocked`
(the user refused template messages) or `failed: system failed` for those in `system_failed`.

Faults (tests/fakes/faults.py) apply to the send endpoints: `error_rate` answers HTTP `error_status` before
anything is delivered; a storm answers errcode 45009; `hang_rate` delivers, then never answers.
`delivered[(recipient, content)]` counts what reached a person or group, so tests can assert exactly-once.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import Counter, deque
from typing import Any

from aiohttp import web

from tests.fakes.faults import FakeServer, Faults
from tests.fakes.tencent_callbacks import CallbackPusher
from tests.fakes.wechat_oa_rules import field_invalid
from warnengine.clock import Clock, SystemClock

OA_APPID, OA_SECRET = "wx0123456789abcdef", "oa-secret-0123456789abcdef01234567"
CORPID, CORP_SECRET, AGENT_ID = "ww0123456789abcdef", "corp-secret-0123456789abcdefghijklm", 1000002
TEMPLATE_ID = "tpl-warning-0001"


class FakeWeChat(FakeServer):
    def __init__(
        self,
        *,
        clock: Clock | None = None,
        faults: Faults | None = None,
        followers: set[str] | None = None,  # openids following the OA
        unfollowed: set[str] | None = None,  # openids WeChat knows that no longer follow
        subscribed: set[str] | None = None,  # openids that accepted the subscription template
        staff: set[str] | None = None,  # WeCom userids in the app's visible range
        unlicensed: set[str] | None = None,
        robots: set[str] | None = None,  # robot webhook keys
        token_ttl_s: int = 7200,
        robot_limit: int = 20,
        oa_callback: str | None = None,
        oa_callback_token: str = "",
        blocked: set[str] | None = None,
        system_failed: set[str] | None = None,
        workbench_home: bool = False,
    ) -> None:
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._oa_token)
        app.router.add_post("/cgi-bin/stable_token", self._oa_stable_token)
        app.router.add_post("/cgi-bin/message/template/send", self._template_send)
        app.router.add_post("/cgi-bin/message/subscribe/bizsend", self._subscribe_send)
        app.router.add_get("/cgi-bin/gettoken", self._wecom_token)
        app.router.add_post("/cgi-bin/message/send", self._wecom_send)
        app.router.add_post("/cgi-bin/webhook/send", self._robot_send)
        super().__init__(app)
        self.clock = clock or SystemClock()
        self.faults = faults or Faults()
        self.followers = followers if followers is not None else set()
        self.unfollowed = unfollowed if unfollowed is not None else set()
        self.subscribed = subscribed if subscribed is not None else set()
        self.staff = staff if staff is not None else set()
        self.unlicensed = unlicensed if unlicensed is not None else set()
        self.robots = robots if robots is not None else set()
        self.token_ttl_s, self.robot_limit = token_ttl_s, robot_limit
        self.token_delay_s = 0.0  # a slow token endpoint makes concurrent refreshes overlap
        self.tokens: dict[str, tuple[str, float]] = {}  # token → (account, expires_at)
        self.token_calls: Counter[str] = Counter()
        self.stable: tuple[str, float] | None = None  # the OA's stable token, expires_at
        self.force_refreshes = 0
        self.stable_calls = 0
        self.daily_quota_exhausted = False  # OA sends answer 45009 (the API's daily quota is spent)
        self.delivered: Counter[tuple[str, str]] = Counter()
        self.requests: Counter[str] = Counter()
        self.task_ids: set[str] = set()
        self.sent_bodies: list[dict[str, Any]] = []
        self._robot_window: dict[str, deque[float]] = {}
        self._dedupe: dict[str, float] = {}  # the request JSON → when it was last delivered
        self.workbench_home = workbench_home
        self.plugin_seen: dict[str, str] = {}
        self.oa_callback, self.oa_callback_token = oa_callback, oa_callback_token
        self.blocked, self.system_failed = blocked or set(), system_failed or set()
        self.callbacks = CallbackPusher()

    async def __aenter__(self) -> FakeWeChat:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.callbacks.close()
        await self.stop()

    def _job_finish(self, openid: str, msgid: int) -> None:
        """The TEMPLATESENDJOBFINISH push that follows a template message, signed (plain mode)."""
        if not self.oa_callback:
            return
        from urllib.parse import urlencode

        from tests.fakes.wechat_callbacks import oa_event_xml, oa_query

        status = (
            "failed:user block"
            if openid in self.blocked
            else "failed: system failed"
            if openid in self.system_failed
            else "success"
        )
        now = int(time.time())
        xml = oa_event_xml(openid, "TEMPLATESENDJOBFINISH", now, MsgID=str(msgid), Status=status)
        url = f"{self.oa_callback}?{urlencode(oa_query(self.oa_callback_token, now))}"
        self.callbacks.spawn(url, xml, 0.0)

    # -- helpers ---------------------------------------------------------------------------------------

    @staticmethod
    def _err(code: int, msg: str, **extra: Any) -> web.Response:
        return web.json_response({"errcode": code, "errmsg": msg, **extra})

    def expire_all_tokens(self) -> None:
        """Every issued token now answers 42001 (what a server-side rotation looks like to a client)."""
        self.tokens = {t: (acct, self.clock.now() - 1) for t, (acct, _) in self.tokens.items()}
        self.stable = None

    def revoke_all_tokens(self) -> None:
        """Every issued token now answers 40001 (another process fetched a new one, or force-refreshed)."""
        self.tokens.clear()
        self.stable = None

    async def _issue(self, account: str) -> web.Response:
        self.token_calls[account] += 1
        if self.token_delay_s:
            await asyncio.sleep(self.token_delay_s)
        if account == "oa":  # a new /cgi-bin/token token: the previous ones live 5 more minutes
            grace = self.clock.now() + 300
            self.tokens = {
                t: (a, min(exp, grace) if a == "oa" else exp) for t, (a, exp) in self.tokens.items()
            }
        token = f"{account}-{secrets.token_hex(16)}"
        self.tokens[token] = (account, self.clock.now() + self.token_ttl_s)
        return web.json_response(
            {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.token_ttl_s}
        )

    def _check_token(self, request: web.Request, account: str) -> web.Response | None:
        token = request.query.get("access_token")
        if not token:
            return self._err(41001, "access_token missing")
        acct_exp = self.tokens.get(token)
        if acct_exp is None or acct_exp[0] != account:
            return self._err(40001, "invalid credential, access_token is invalid or not latest")
        if acct_exp[1] <= self.clock.now():
            return self._err(42001, "access_token expired")
        return None

    async def _faults(self, request: web.Request, kind: str) -> web.Response | None:
        self.requests[kind] += 1
        f = self.faults
        if f.latency_s:
            await asyncio.sleep(f.latency_s)
        oa = kind in ("template", "subscribe")
        if oa and self.daily_quota_exhausted:
            return self._err(45009, "reach max api daily quota limit")
        if f.in_storm(self.elapsed()):  # OA: the per-minute frequency limit; WeCom: 45009 for both
            if oa:
                return self._err(45011, "api minute-quota reach limit, mustslower retry next minute")
            return self._err(45009, "api freq out of limit")
        if f.error():
            return web.Response(status=f.error_status, text="<html>502 Bad Gateway</html>")
        return None

    async def _json(self, request: web.Request) -> dict[str, Any] | None:
        try:
            data = json.loads(await request.read())
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    async def _maybe_hang(self) -> None:
        if self.faults.hang():
            await asyncio.sleep(self.faults.hang_s)

    # -- Official Account ------------------------------------------------------------------------------

    async def _oa_token(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("grant_type") != "client_credential":
            return self._err(40002, "invalid grant_type")
        if q.get("appid") != OA_APPID:
            return self._err(40013, "invalid appid")
        if q.get("secret") != OA_SECRET:
            return self._err(40125, "invalid appsecret")
        return await self._issue("oa")

    async def _oa_stable_token(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        if body is None:
            return self._err(47001, "data format error")
        if body.get("grant_type") != "client_credential":
            return self._err(40002, "invalid grant_type")
        if body.get("appid") != OA_APPID:
            return self._err(40013, "invalid appid")
        if body.get("secret") != OA_SECRET:
            return self._err(40125, "invalid appsecret")
        self.token_calls["oa"] += 1
        self.stable_calls += 1
        now = self.clock.now()
        if body.get("force_refresh") is True:
            self.force_refreshes += 1
            if self.stable is not None:
                self.tokens.pop(self.stable[0], None)
            self.stable = None
        if self.stable is None or self.stable[1] - now <= 300:
            token = f"oa-stable-{secrets.token_hex(16)}"
            self.stable = (token, now + self.token_ttl_s)
            self.tokens[token] = ("oa", now + self.token_ttl_s)
        token, exp = self.stable
        return web.json_response({"access_token": token, "expires_in": int(exp - now)})

    async def _oa_send(self, request: web.Request, kind: str) -> web.Response:
        if (bad := self._check_token(request, "oa")) is not None:
            return bad
        if (fault := await self._faults(request, kind)) is not None:
            return fault
        body = await self._json(request)
        if body is None:
            return self._err(47001, "data format error")
        openid, data = body.get("touser"), body.get("data")
        if body.get("template_id") != TEMPLATE_ID:
            return self._err(40037, "invalid template_id")
        if not isinstance(data, dict) or not all(isinstance(v, dict) and "value" in v for v in data.values()):
            return self._err(47003, "argument invalid! data.value invalid")
        invalid = [k for k, v in data.items() if field_invalid(str(k), v["value"])]
        if invalid:
            return self._err(47003, f"argument invalid! data.{invalid[0]}.value invalid")
        if openid not in self.followers and openid not in self.unfollowed:
            return self._err(40003, "invalid openid")
        if openid in self.unfollowed:
            return self._err(43004, "require subscribe")
        if kind == "subscribe" and openid not in self.subscribed:
            return self._err(43101, "user refuse to accept the msg")
        self.delivered[(openid, json.dumps(data, ensure_ascii=False, sort_keys=True))] += 1
        self.sent_bodies.append(body)
        msgid = int(time.time() * 1000) + len(self.sent_bodies)
        if kind == "template":
            self._job_finish(str(openid), msgid)
        await self._maybe_hang()
        return self._err(0, "ok", msgid=msgid)

    async def _template_send(self, request: web.Request) -> web.Response:
        return await self._oa_send(request, "template")

    async def _subscribe_send(self, request: web.Request) -> web.Response:
        return await self._oa_send(request, "subscribe")

    # -- WeCom app -------------------------------------------------------------------------------------

    async def _wecom_token(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("corpid") != CORPID:
            return self._err(40013, "invalid corpid")
        if q.get("corpsecret") != CORP_SECRET:
            return self._err(40001, "invalid credential")
        return await self._issue("wecom")

    async def _wecom_send(self, request: web.Request) -> web.Response:
        if (bad := self._check_token(request, "wecom")) is not None:
            return bad
        if (fault := await self._faults(request, "wecom")) is not None:
            return fault
        body = await self._json(request)
        if body is None:
            return self._err(40058, "invalid json")
        if body.get("agentid") != AGENT_ID:
            return self._err(301002, "not allow operate another agent with this accesstoken")
        msgtype = body.get("msgtype")
        content = self._wecom_content(body)
        if isinstance(content, web.Response):
            return content
        users = [u for u in str(body.get("touser", "")).split("|") if u]
        invalid = [u for u in users if u not in self.staff and u not in self.unlicensed]
        unlicensed = [u for u in users if u in self.unlicensed]
        valid = [u for u in users if u in self.staff]
        if not valid:
            return self._err(81013, "user & party & tag all invalid", invaliduser="|".join(invalid))
        if msgtype == "template_card":
            self.task_ids.add(body["template_card"]["task_id"])
        self._wecom_deliver(body, valid, content)
        self.sent_bodies.append(body)
        await self._maybe_hang()
        return self._err(
            0,
            "ok",
            invaliduser="|".join(invalid),
            invalidparty="",
            invalidtag="",
            unlicenseduser="|".join(unlicensed),
            msgid=secrets.token_urlsafe(24),
            response_code=secrets.token_urlsafe(24) if msgtype == "template_card" else "",
        )

    def _wecom_content(self, body: dict[str, Any]) -> str | web.Response:
        """What a recipient gets (the text, or the card without its task_id), or WeCom's refusal."""
        msgtype = body.get("msgtype")
        if msgtype == "text":
            content = body.get("text", {}).get("content")
            if not content:
                return self._err(44004, "empty content")
            return str(content)
        if msgtype == "template_card":
            card = body.get("template_card", {})
            task_id = card.get("task_id")
            if card.get("card_type") != "button_interaction" or not card.get("button_list") or not task_id:
                return self._err(40058, "template_card invalid")
            if task_id in self.task_ids:
                return self._err(40058, "task_id already exists")
            return json.dumps({k: v for k, v in card.items() if k != "task_id"}, sort_keys=True)
        return self._err(40008, "invalid message type")

    def _wecom_deliver(self, body: dict[str, Any], valid: list[str], content: str) -> None:
        """Count one delivery per valid user, unless the duplicate check drops the whole request."""
        now = self.clock.now()
        same = json.dumps(body, sort_keys=True, ensure_ascii=False)
        seen = self._dedupe.get(same)
        if (
            body.get("enable_duplicate_check")
            and seen is not None
            and now - seen < body.get("duplicate_check_interval", 1800)
        ):
            return  # WeCom drops a repeated identical request
        self._dedupe[same] = now
        for u in valid:
            self.delivered[(u, content)] += 1
            if self.workbench_home and body.get("msgtype") == "text":
                self.plugin_seen[u] = content.encode()[:20].decode(errors="ignore")

    # -- group robot -----------------------------------------------------------------------------------

    async def _robot_send(self, request: web.Request) -> web.Response:
        key = request.query.get("key", "")
        if key not in self.robots:
            return self._err(93000, "invalid webhook url, please check the key")
        if (fault := await self._faults(request, "robot")) is not None:
            return fault
        body = await self._json(request)
        if body is None:
            return self._err(40058, "invalid json")
        msgtype = body.get("msgtype")
        if msgtype not in ("text", "markdown"):
            return self._err(40008, "invalid message type")
        content = body.get(msgtype, {}).get("content", "")
        if not content:
            return self._err(44004, "empty content")
        if len(content.encode()) > (2048 if msgtype == "text" else 4096):
            return self._err(45002, "content size out of limit")
        q = self._robot_window.setdefault(key, deque())
        now = self.clock.now()
        while q and q[0] <= now - 60:
            q.popleft()
        if len(q) >= self.robot_limit:
            return self._err(45009, "api freq out of limit")
        q.append(now)
        self.delivered[(key, content)] += 1
        self.sent_bodies.append(body)
        await self._maybe_hang()
        return self._err(0, "ok")

    def robot_count(self, key: str) -> int:
        return sum(n for (k, _), n in self.delivered.items() if k == key)

    def count(self, recipient: str) -> int:
        return sum(n for (r, _), n in self.delivered.items() if r == recipient)
