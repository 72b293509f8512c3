"""WeCom (企业微信) app messages to staff: `POST /cgi-bin/message/send?access_token=`.

One request carries one message to up to 1000 userids (`touser` joined with "|"); deliveries in a batch
with the same message share a request. WeCom answers errcode 0 and lists the userids it could not reach in
`invaliduser` / `unlicenseduser`, so each delivery still gets its own result; 81013 means none was valid.

Ack by a human action only: the default `template_card` is a button_interaction card with one "收到"
button whose click WeCom posts to our callback as a `template_card_event` (channels/wechat_webhook.py
turns it into a reply event for the clicking userid). A card has no link, so no scanner can confirm it.
`msgtype="text"` is for staff on the WeChat plugin (微工作台), which does not show cards: they reply "1".
An app set to open its home page in the plugin gets text only there, cut to 20 bytes, so the text starts
with a head that fits them: "红色预警回复1" (19 bytes) says what it is and what to do.

`enable_duplicate_check` is on: WeCom drops "the same request JSON" within the interval (developer.work.
weixin.qq.com/document/path/90236), so text goes one request per user: resending after an unanswered
request repeats the request byte for byte and is dropped, which makes that resend safe. Cards carry a
fresh task_id per request (WeCom wants them unique), so for cards an unanswered request stays ambiguous.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any, Literal

import aiohttp

from channels.base import Outgoing, SendResult
from channels.people_http import (
    Message,
    bounded,
    fail,
    http_status_failure,
    record,
    transport_failure,
)
from channels.people_http import truncate_utf8 as cut
from channels.tokens import WX_TOKEN_ERRCODES, TokenError, TokenService, WeComTokenSource
from channels.wechat_common import ACK_KEY, WeChatApiAdapter
from warnengine.model import Channel
from warnengine.obs import log as obslog

log = obslog.get("warnengine.channels.wecom_app")

API_BASE = "https://qyapi.weixin.qq.com"
MAX_TOUSER = 1000
PLUGIN_BYTES = 20  # what a WeChat-plugin user sees of a text when the app opens its home page there

# errcode → (code label, retryable, provider_fault). Unlisted errcodes are final rejections.
_ERRORS: dict[int, tuple[str, bool, bool]] = {
    -1: ("server_error", True, True),  # system busy
    45009: ("rate_limited", True, False),  # API frequency limit
    45033: ("rate_limited", True, False),  # too many concurrent calls
    81013: ("invalid_recipient", False, False),  # user & party & tag all invalid
    82001: ("invalid_recipient", False, False),  # all receivers empty or invalid
    60020: ("auth", False, True),  # our server IP is not whitelisted
    301002: ("auth", False, True),  # agentid does not match the token's app
    40056: ("auth", False, True),  # invalid agentid
}


class WeComAppChannel(WeChatApiAdapter):
    kind = Channel.WECOM

    def __init__(
        self,
        corpid: str,
        corpsecret: str,
        agentid: int | str,  # a string from config/env is fine
        *,
        tokens: TokenService | None = None,
        api_base: str = API_BASE,
        name: str = "wecom-app",
        msgtype: Literal["template_card", "text"] = "template_card",
        source_desc: str = "县应急管理局",
        ack_button: str = "收到",
        batch_size: int = MAX_TOUSER,
        rate_per_s: float | None = None,
        max_connections: int = 8,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        duplicate_check_interval_s: int = 1800,
    ) -> None:
        self.name, self.batch_size, self.rate_per_s = name, min(batch_size, MAX_TOUSER), rate_per_s
        self.source = WeComTokenSource(corpid, corpsecret, base_url=api_base)
        self._own_tokens = tokens is None
        self.tokens = tokens or TokenService()
        self._url = f"{api_base.rstrip('/')}/cgi-bin/message/send"
        self._agentid, self._msgtype = int(agentid), msgtype
        self._source_desc, self._ack_button = source_desc, ack_button
        self._dup_interval = duplicate_check_interval_s
        self._limit = max_connections
        self._timeouts = (connect_timeout_s, read_timeout_s)
        self._http: aiohttp.ClientSession | None = None

    def content(self, m: Message) -> dict[str, Any]:
        """The msgtype-specific part of the request (everything but touser/agentid/task_id)."""
        if self._msgtype == "text":
            head = cut(f"{m.severity_zh}预警回复1", PLUGIN_BYTES, "")
            text = f"{head}\n【{m.title}】\n{m.text}\n\n收到请回复 1"
            return {"msgtype": "text", "text": {"content": cut(text, 2048)}}
        return {
            "msgtype": "template_card",
            "template_card": {
                "card_type": "button_interaction",
                "source": {"desc": self._source_desc},
                "main_title": {"title": cut(m.title, 108), "desc": f"{m.severity_zh}预警"},
                "sub_title_text": cut(m.text, 1000),
                "button_list": [{"text": self._ack_button, "style": 1, "key": ACK_KEY}],
            },
        }

    async def send_batch(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        await self.start()
        results: dict[int, SendResult] = {}
        groups: dict[str, tuple[dict[str, Any], list[int]]] = {}
        for i, o in enumerate(batch):
            m = Message.of(o)
            if m is None:
                results[i] = fail(o, "bad_body", "message body has no text")
            elif not _valid_userid(o.recipient):
                results[i] = fail(o, "invalid_recipient", f"not a WeCom userid: {o.recipient[:64]!r}")
            else:
                content = self.content(m)
                key = repr(sorted(content.items()))
                groups.setdefault(key, (content, []))[1].append(i)
        per = 1 if self._msgtype == "text" else MAX_TOUSER  # text: identical on resend (see above)
        chunks = [
            (content, idx[start : start + per])
            for content, idx in groups.values()
            for start in range(0, len(idx), per)
        ]
        jobs = [lambda c=c, ch=ch: self._send_group(c, [batch[i] for i in ch]) for c, ch in chunks]
        for (_, chunk), chunk_results in zip(chunks, await bounded(self._limit, jobs), strict=True):
            results.update(zip(chunk, chunk_results, strict=True))
        out = [results[i] for i in range(len(batch))]
        record(self.kind.value, self.name, out)
        return out

    async def _send_group(self, content: dict[str, Any], group: list[Outgoing]) -> list[SendResult]:
        users = list(dict.fromkeys(o.recipient for o in group))
        body: dict[str, Any] = {
            "touser": "|".join(users),
            "agentid": self._agentid,
            **content,
            "enable_duplicate_check": 1,
            "duplicate_check_interval": self._dup_interval,
        }
        if "template_card" in body:
            body["template_card"] = {**body["template_card"], "task_id": "wn" + secrets.token_hex(15)}
        try:
            status, headers, data = await self.call(body)
        except TokenError as e:
            label = "server_error" if e.retryable else "auth"
            return [fail(o, label, str(e), retryable=e.retryable, provider_fault=True) for o in group]
        except (TimeoutError, aiohttp.ClientError) as e:
            return [transport_failure(o, e, dedupe=self._msgtype == "text") for o in group]
        early = [http_status_failure(o, status, headers) for o in group]
        if early[0] is not None:
            return [r for r in early if r is not None]
        if data is None:
            return [fail(o, "bad_response", f"HTTP {status}, body not JSON") for o in group]
        code = data.get("errcode")
        if code != 0:
            label, retryable, provider_fault = _ERRORS.get(
                code if isinstance(code, int) else -2, ("rejected", False, False)
            )
            if code in WX_TOKEN_ERRCODES:  # still rejected after one refresh
                label, retryable, provider_fault = "auth", True, True
            detail = f"wecom errcode {code}: {data.get('errmsg', '')}"
            log.info("wecom_send_refused", code=code, label=label, recipients=len(users))
            return [fail(o, label, detail, retryable=retryable, provider_fault=provider_fault) for o in group]
        invalid = _split(data.get("invaliduser"))
        unlicensed = _split(data.get("unlicenseduser"))
        msgid = str(data.get("msgid") or "") or None
        out = []
        for o in group:
            if o.recipient in invalid:
                out.append(
                    fail(o, "invalid_recipient", "wecom: invaliduser (not in the app's visible range)")
                )
            elif o.recipient in unlicensed:
                out.append(fail(o, "unlicensed", "wecom: unlicenseduser (account has no license)"))
            else:
                out.append(SendResult(o.delivery_id, ok=True, provider_ref=msgid))
        return out


def _split(value: Any) -> set[str]:
    return {u for u in value.split("|") if u} if isinstance(value, str) else set()


def _valid_userid(u: str) -> bool:
    # userids are 1-64 bytes of letters, digits and _-.@ ; a "|" would address someone else
    return 0 < len(u.encode()) <= 64 and "|" not in u and not any(c.isspace() for c in u)
