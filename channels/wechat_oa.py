"""WeChat Official Account (公众号) messages to residents by openid.

- `mode="template"`: template message, `POST /cgi-bin/message/template/send?access_token=` with
  `{touser, template_id, url?, data}` → `{"errcode": 0, "msgid": …}`. WeChat later posts a
  TEMPLATESENDJOBFINISH event with that MsgID (delivered / user blocked), parsed by the webhook.
- `mode="subscribe"`: subscription notice (订阅通知), `POST /cgi-bin/message/subscribe/bizsend` with
  `{touser, template_id, page?, data}`; needs the resident to have accepted the template.

One request per openid (the API takes one user). Per-recipient refusals are final for that delivery and
never fail the batch: 43004 the resident does not follow the account, 40003 unknown openid, 43101 the
resident refused this subscription template. Residents acknowledge by replying to the account ("1",
"收到"); the optional `detail_url` is only a link, and opening it is never an acknowledgement.

Template `data` keys depend on the template registered in the account's back office; `fields` maps each
key to one of title, text, severity, hazard, expires. WeChat checks each value against its key's type
(https://developers.weixin.qq.com/doc/offiaccount/Subscription_Messages/api.html, 参数值内容限制) and
answers 47003 otherwise, so every value is fitted first: control characters (newlines) become spaces;
`thing` ≤ 20 characters; `phrase` ≤ 5 Chinese characters only (severity as 红色预警…, never an English word;
anything else non-Chinese becomes 预警); `character_string` ≤ 32 ASCII characters; `time` as
"YYYY-MM-DD HH:MM". If WeChat still refuses the data (47003) or the template (40037), the account's
configuration is at fault, not the resident: a provider fault, final here, so the delivery fails over and
escalates to the person's next channel instead of ending silently. 45009 (the API's daily quota) is also
a provider fault and not retried: the quota does not come back within a warning's lifetime.

The access token comes from /cgi-bin/stable_token by default (channels/tokens.py): one token per app that
every worker shares.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

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
from channels.tokens import WX_TOKEN_ERRCODES, TokenError, TokenService, WeChatOATokenSource
from channels.wechat_common import WeChatApiAdapter
from warnengine.model import Channel
from warnengine.obs import log as obslog

log = obslog.get("warnengine.channels.wechat_oa")

API_BASE = "https://api.weixin.qq.com"
PATHS = {"template": "/cgi-bin/message/template/send", "subscribe": "/cgi-bin/message/subscribe/bizsend"}
DEFAULT_FIELDS = {"thing1": "title", "phrase2": "severity", "thing3": "text", "time4": "expires"}
# Value limits by key type in WeChat's category templates (characters).
_TYPE_LIMITS = {"thing": 20, "phrase": 5, "character_string": 32, "short_thing": 5, "const": 20}
_SEVERITY_PHRASE = {"blue": "蓝色预警", "yellow": "黄色预警", "orange": "橙色预警", "red": "红色预警"}
_NOT_CJK = re.compile(r"[^\u3400-\u4dbf\u4e00-\u9fff]")
_NOT_ASCII = re.compile(r"[^\x21-\x7e]")

# errcode → (code label, retryable, provider_fault). Unlisted errcodes are final rejections.
_ERRORS: dict[int, tuple[str, bool, bool]] = {
    -1: ("server_error", True, True),
    45011: ("rate_limited", True, False),  # per-minute frequency limit: slow down, retry
    45009: ("quota_exceeded", False, True),  # the API's daily quota: gone for today, fail over
    43004: ("not_following", False, False),
    43101: ("not_subscribed", False, False),
    40003: ("invalid_recipient", False, False),
    40037: ("bad_template", False, True),
    47003: ("bad_template_data", False, True),  # data does not fit the template's fields: our config
    48001: ("auth", False, True),  # API not authorised for this account
    40164: ("auth", False, True),  # our IP is not whitelisted
}


class WeChatOAChannel(WeChatApiAdapter):
    kind = Channel.WECHAT

    def __init__(
        self,
        appid: str,
        secret: str,
        template_id: str,
        *,
        tokens: TokenService | None = None,
        mode: Literal["template", "subscribe"] = "template",
        fields: Mapping[str, str] = DEFAULT_FIELDS,
        detail_url: str | None = None,  # may contain {warning_id}
        api_base: str = API_BASE,
        name: str = "wechat-oa",
        batch_size: int = 200,
        rate_per_s: float | None = None,
        max_connections: int = 32,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        tz: str = "Asia/Shanghai",  # residents read local time
        token_endpoint: Literal["stable", "token"] = "stable",
    ) -> None:
        self.name, self.batch_size, self.rate_per_s = name, batch_size, rate_per_s
        self._tz = ZoneInfo(tz)
        self.source = WeChatOATokenSource(appid, secret, base_url=api_base, endpoint=token_endpoint)
        self._own_tokens = tokens is None
        self.tokens = tokens or TokenService()
        self._url = api_base.rstrip("/") + PATHS[mode]
        self._mode, self._template_id = mode, template_id
        self._fields, self._detail_url = dict(fields), detail_url
        self._limit = max_connections
        self._timeouts = (connect_timeout_s, read_timeout_s)
        self._http: aiohttp.ClientSession | None = None

    def request_body(self, o: Outgoing, m: Message) -> dict[str, Any]:
        expires = datetime.fromtimestamp(o.expires_at, self._tz).strftime("%Y-%m-%d %H:%M")
        values = {
            "title": m.title,
            "text": m.text,
            "severity": _SEVERITY_PHRASE.get(m.severity, m.severity_zh),
            "hazard": m.hazard,
            "expires": expires,
        }
        data = {k: {"value": _fit(k, values.get(src, ""))} for k, src in self._fields.items()}
        body: dict[str, Any] = {"touser": o.recipient, "template_id": self._template_id, "data": data}
        if self._detail_url:
            link = self._detail_url.format(warning_id=m.warning_id)
            body["url" if self._mode == "template" else "page"] = link
        return body

    async def send_batch(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        await self.start()
        results = await bounded(self._limit, [functools.partial(self._send_one, o) for o in batch])
        record(self.kind.value, self.name, results)
        return results

    async def _send_one(self, o: Outgoing) -> SendResult:
        m = Message.of(o)
        if m is None:
            return fail(o, "bad_body", "message body has no text")
        if not _plausible_openid(o.recipient):
            return fail(o, "invalid_recipient", f"not an openid: {o.recipient[:64]!r}")
        body = self.request_body(o, m)
        try:
            status, headers, data = await self.call(body)
        except TokenError as e:
            code = "server_error" if e.retryable else "auth"
            return fail(o, code, str(e), retryable=e.retryable, provider_fault=True)
        except (TimeoutError, aiohttp.ClientError) as e:
            return transport_failure(o, e)
        early = http_status_failure(o, status, headers)
        if early is not None:
            return early
        if data is None:
            return fail(o, "bad_response", f"HTTP {status}, body not JSON")
        code = data.get("errcode", 0)
        if code == 0:
            msgid = data.get("msgid")
            return SendResult(o.delivery_id, ok=True, provider_ref=str(msgid) if msgid is not None else None)
        label, retryable, provider_fault = _ERRORS.get(
            code if isinstance(code, int) else -2, ("rejected", False, False)
        )
        if code in WX_TOKEN_ERRCODES:  # still rejected after one refresh
            label, retryable, provider_fault = "auth", True, True
        log.info("wechat_oa_send_refused", code=code, label=label, village=o.village_code)
        detail = f"wechat errcode {code}: {data.get('errmsg', '')}"
        return fail(o, label, detail, retryable=retryable, provider_fault=provider_fault)


def _fit(key: str, value: str) -> str:
    """`value` made acceptable for a field of `key`'s type (WeChat answers 47003 otherwise)."""
    kind = key.rstrip("0123456789")
    value = " ".join("".join(" " if unicodedata.category(c)[0] == "C" else c for c in value).split())
    if kind == "phrase":  # at most 5 Chinese characters, nothing else
        value = _NOT_CJK.sub("", value)[:5] or "预警"
    elif kind == "character_string":
        return (_NOT_ASCII.sub("", value) or "-")[:32]
    limit = _TYPE_LIMITS.get(kind, 20)
    if not value:
        return "-"
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _plausible_openid(s: str) -> bool:
    # openids are 28 URL-safe base64 characters today; accept 16-64 so a format change is not fatal
    return 16 <= len(s) <= 64 and all(c.isalnum() or c in "-_" for c in s)
