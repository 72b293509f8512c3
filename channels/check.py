"""The cheapest harmless call per people-channel provider: `warnengine channels check` (the day-one check an
integrator runs before the first real warning) and the leader's scheduled canaries (issue 18) both use it.

For every provider in config/channels.yaml, with the configured credentials, the cheapest harmless call:
Tencent DescribeSmsTemplateList (credentials + the template approved and matching the configured text),
Twilio (SMS and voice) the Account fetch, WeChat OA /cgi-bin/stable_token, FCM an OAuth token and a
`validate_only` send (credentials + project), others "not checked". Findings are one of `credential`,
`template`, `project`, `unreachable`, `config`, with the provider's own code in the detail. Secrets never
appear in a finding.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from channels.config import ConfigError, ProviderConfig, load_channels
from channels.registry import load
from channels.tokens import TokenError

_ZH = {
    "ok": "正常",
    "credential": "凭据错误",
    "template": "模板不可用",
    "project": "项目错误",
    "unreachable": "无法连接",
    "config": "配置错误",
    "unchecked": "未检查",
}


@dataclass(frozen=True)
class Finding:
    provider: str
    adapter: str
    status: str  # ok | credential | template | project | unreachable | config | unchecked
    detail: str

    @property
    def failed(self) -> bool:
        return self.status not in ("ok", "unchecked")

    def line(self) -> str:
        return f"{self.provider:<12} {_ZH[self.status]} / {self.status}: {self.detail}"


async def _tencent(a: Any) -> tuple[str, str]:
    if a.template is None:
        return "template", "no `template` configured: a one-variable {1} template is never approved"
    body = {"TemplateIdSet": [int(a._template)], "International": 0}
    _, text = await a._post("DescribeSmsTemplateList", body)
    resp = json.loads(text)["Response"]
    err = resp.get("Error")
    if isinstance(err, dict):
        code = str(err.get("Code"))
        kind = "credential" if code.startswith(("AuthFailure", "UnauthorizedOperation")) else "template"
        return kind, f"tencent {code}"
    [row] = resp.get("DescribeTemplateStatusSet") or [{}]
    if row.get("StatusCode") != 0:
        return "template", f"template {a._template} not approved (StatusCode {row.get('StatusCode')})"
    if row.get("TemplateContent") not in (None, a.template):
        return "template", f"template {a._template} text differs from the configured `template`"
    return "ok", f"template {a._template} approved"


async def _twilio(p: dict[str, Any]) -> tuple[str, str]:
    base = str(p.get("api_base", "https://api.twilio.com")).rstrip("/")
    raw = base64.b64encode(f"{p['account_sid']}:{p['auth_token']}".encode()).decode()
    url = f"{base}/2010-04-01/Accounts/{p['account_sid']}.json"
    async with aiohttp.ClientSession() as s, s.get(url, headers={"Authorization": f"Basic {raw}"}) as r:
        if r.status in (401, 403, 404):
            return "credential", f"twilio account fetch HTTP {r.status}"
        if r.status != 200:
            return "unreachable", f"twilio account fetch HTTP {r.status}"
        status = (await r.json()).get("status")
    return ("ok", "account active") if status == "active" else ("credential", f"account status {status}")


async def _token(a: Any) -> tuple[str, str]:
    try:
        await a.tokens.get(a.source)
    except TokenError as e:
        return ("unreachable" if e.retryable else "credential"), e.reason
    return "ok", "token fetched"


async def _fcm(a: Any) -> tuple[str, str]:
    kind, detail = await _token(a)
    if kind != "ok":
        return kind, detail
    msg = {"message": {"token": "channels-check-not-a-device", "data": {"check": "1"}}, "validate_only": True}
    status, _, data = await a.tokens.call(a.source, lambda t: a._post(t, msg), lambda out: out[0] == 401)
    err = (data or {}).get("error") or {}
    if status == 403 or err.get("status") == "PERMISSION_DENIED":
        return "project", f"fcm 403 {err.get('status')}: wrong project_id for this service account"
    if status == 401:
        return "credential", "fcm 401 after a fresh OAuth token"
    if status in (200, 400, 404):  # 400/404: our made-up device token, after auth and project passed
        return "ok", "OAuth token and project accepted (validate_only)"
    return "unreachable", f"fcm HTTP {status}"


async def check_provider(p: ProviderConfig) -> Finding:
    try:
        if p.adapter in ("sms-twilio", "voice-twilio"):
            kind, detail = await _twilio(p.params)
            return Finding(p.name, p.adapter, kind, detail)
        checks: dict[str, Callable[[Any], Coroutine[Any, Any, tuple[str, str]]]] = {
            "sms-tencent": _tencent,
            "wechat-oa": _token,
            "wecom-app": _token,
            "fcm": _fcm,
        }
        if p.adapter not in checks:
            return Finding(p.name, p.adapter, "unchecked", "no cheap harmless call known for this adapter")
        adapter = load(p.adapter)(**p.params, name=p.name)
        try:
            await adapter.start()
            kind, detail = await checks[p.adapter](adapter)
        finally:
            await adapter.stop()
        return Finding(p.name, p.adapter, kind, detail)
    except (ValueError, TypeError, KeyError, ConfigError) as e:
        return Finding(p.name, p.adapter, "config", f"{type(e).__name__}: {e}")
    except (TimeoutError, aiohttp.ClientError) as e:
        return Finding(p.name, p.adapter, "unreachable", type(e).__name__)


async def check_all(path: Path) -> list[Finding]:
    pools = load_channels(path)
    return list(await asyncio.gather(*(check_provider(p) for pool in pools.values() for p in pool.providers)))
