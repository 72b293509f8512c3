"""One access-token service for every provider that wants a short-lived bearer token.

- WeChat Official Account: `POST /cgi-bin/stable_token` `{grant_type, appid, secret, force_refresh: false}`
  → `{"access_token", "expires_in"}` (getStableAccessToken,
  https://developers.weixin.qq.com/doc/service/api/base/api_getstableaccesstoken). In normal mode every
  caller gets the same token while it is valid, so any number of worker processes share one token without
  coordinating. The classic `GET /cgi-bin/token` (`endpoint="token"`) issues a new token on every call and
  the previous one dies five minutes later: several workers fetching on their own keep invalidating each
  other (40001); it is kept only for accounts that cannot use the stable endpoint.
- WeCom: `GET /cgi-bin/gettoken?corpid=&corpsecret=` → `{"errcode": 0, "access_token", "expires_in"}`.
- FCM: OAuth2 JWT bearer grant (RFC 7523): an RS256 assertion signed with the service account's key,
  POSTed to its `token_uri` → `{"access_token", "expires_in", "token_type": "Bearer"}`.

Tokens are cached per credential and refreshed `margin` before they expire (read on the injected clock).
One asyncio lock per credential makes refreshes single-flight: a hundred concurrent senders that find the
token stale cause one fetch, not a hundred (WeChat counts token calls per day, and an OA token fetch
invalidates the previous token after five minutes). When a provider rejects a token (`invalidate`), only
the caller holding that exact token marks it stale, so a burst of rejections still causes one refresh.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import aiohttp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from channels.people_http import read_json, session
from warnengine.clock import Clock, SystemClock
from warnengine.obs import log as obslog
from warnengine.obs import metrics

log = obslog.get("warnengine.channels.tokens")
T = TypeVar("T")

# WeChat OA and WeCom errcodes meaning "this access token is bad": invalid credential, invalid token, expired.
WX_TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"


class TokenError(Exception):
    """No token: `retryable` when the token endpoint was unreachable or busy, not when we were refused."""

    def __init__(self, provider: str, reason: str, *, retryable: bool) -> None:
        super().__init__(f"{provider} token: {reason}")
        self.provider, self.reason, self.retryable = provider, reason, retryable


class TokenSource(Protocol):
    @property
    def key(self) -> str:
        """One cache entry and one lock per key (provider + account)."""
        ...

    @property
    def provider(self) -> str: ...

    async def fetch(self, http: aiohttp.ClientSession, now: float) -> tuple[str, float]:
        """(token, lifetime in seconds) or TokenError."""
        ...


async def _get_json(provider: str, req: Any) -> dict[str, Any]:
    """`req` is an aiohttp request context manager (`http.get(...)`)."""
    try:
        async with req as resp:
            data = await read_json(resp)
            if resp.status == 429 or resp.status >= 500:
                raise TokenError(provider, f"HTTP {resp.status}", retryable=True)
    except (TimeoutError, aiohttp.ClientError) as e:
        raise TokenError(provider, f"unreachable ({type(e).__name__}: {e})", retryable=True) from e
    if data is None:
        raise TokenError(provider, f"HTTP {resp.status}, body not JSON", retryable=True)
    return data


def _wx_token(provider: str, data: dict[str, Any]) -> tuple[str, float]:
    code = data.get("errcode", 0)
    if code not in (0, None):
        # -1 is "system busy, try again"; anything else (40013 bad appid, 40125 bad secret, 40164 IP not
        # whitelisted…) is a configuration fault that a retry will not fix.
        raise TokenError(provider, f"errcode {code}: {data.get('errmsg', '')}", retryable=code == -1)
    token, ttl = data.get("access_token"), data.get("expires_in")
    if not isinstance(token, str) or not token or not isinstance(ttl, int | float):
        raise TokenError(provider, "response without access_token/expires_in", retryable=True)
    return token, float(ttl)


@dataclass(frozen=True)
class WeChatOATokenSource:
    appid: str
    secret: str
    base_url: str = "https://api.weixin.qq.com"
    provider: str = "wechat-oa"
    endpoint: str = "stable"  # "stable": /cgi-bin/stable_token, shared across processes; "token": classic

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.appid}"

    async def fetch(self, http: aiohttp.ClientSession, now: float) -> tuple[str, float]:
        base = self.base_url.rstrip("/")
        if self.endpoint == "token":
            params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
            req = http.get(f"{base}/cgi-bin/token", params=params)
        else:  # normal mode, never force_refresh: forcing would invalidate every other worker's token
            body = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
            req = http.post(f"{base}/cgi-bin/stable_token", json={**body, "force_refresh": False})
        return _wx_token(self.provider, await _get_json(self.provider, req))


@dataclass(frozen=True)
class WeComTokenSource:
    corpid: str
    corpsecret: str  # one secret per WeCom app: each app has its own token
    base_url: str = "https://qyapi.weixin.qq.com"
    provider: str = "wecom"

    @property
    def key(self) -> str:
        # Each WeCom app has its own secret and token; the digest keeps the secret itself out of the key.
        return f"{self.provider}:{self.corpid}:{hashlib.sha256(self.corpsecret.encode()).hexdigest()[:12]}"

    async def fetch(self, http: aiohttp.ClientSession, now: float) -> tuple[str, float]:
        params = {"corpid": self.corpid, "corpsecret": self.corpsecret}
        req = http.get(f"{self.base_url.rstrip('/')}/cgi-bin/gettoken", params=params)
        return _wx_token(self.provider, await _get_json(self.provider, req))


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign_jwt_rs256(claims: dict[str, Any], private_key: rsa.RSAPrivateKey, kid: str | None = None) -> str:
    header: dict[str, Any] = {"alg": "RS256", "typ": "JWT"}
    if kid:
        header["kid"] = kid
    parts = [_b64url(json.dumps(p, separators=(",", ":")).encode()) for p in (header, claims)]
    signing_input = ".".join(parts).encode()
    sig = private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{parts[0]}.{parts[1]}.{_b64url(sig)}"


@dataclass(frozen=True)
class FcmTokenSource:
    """A Google service account (the JSON key file's fields), for the FCM HTTP v1 scope."""

    client_email: str
    private_key_pem: str
    token_uri: str = "https://oauth2.googleapis.com/token"
    private_key_id: str | None = None
    scope: str = FCM_SCOPE
    provider: str = "fcm"

    @classmethod
    def from_service_account(cls, info: dict[str, Any], token_uri: str | None = None) -> FcmTokenSource:
        return cls(
            client_email=info["client_email"],
            private_key_pem=info["private_key"],
            token_uri=token_uri or info.get("token_uri") or "https://oauth2.googleapis.com/token",
            private_key_id=info.get("private_key_id"),
        )

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.client_email}"

    def assertion(self, now: float) -> str:
        key = serialization.load_pem_private_key(self.private_key_pem.encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TokenError(self.provider, "service account key is not RSA", retryable=False)
        iat = int(now)
        claims = {"iss": self.client_email, "scope": self.scope, "aud": self.token_uri, "iat": iat}
        return sign_jwt_rs256({**claims, "exp": iat + 3600}, key, self.private_key_id)

    async def fetch(self, http: aiohttp.ClientSession, now: float) -> tuple[str, float]:
        form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": self.assertion(now)}
        data = await _get_json(self.provider, http.post(self.token_uri, data=form))
        token, ttl = data.get("access_token"), data.get("expires_in")
        if "error" in data or not isinstance(token, str) or not isinstance(ttl, int | float):
            # invalid_grant (bad signature, clock skew, deleted key) needs a person, not a retry.
            detail = f"{data.get('error', 'no access_token')}: {data.get('error_description', '')}"
            raise TokenError(self.provider, detail, retryable=False)
        return token, float(ttl)


@dataclass
class _Entry:
    token: str | None = None
    expires_at: float = 0.0
    lock: asyncio.Lock | None = None


class TokenService:
    """Cached, single-flight tokens for any number of `TokenSource`s. One per process, shared by adapters."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        margin_s: float = 300.0,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
    ) -> None:
        self._clock = clock or SystemClock()
        self._margin = margin_s
        self._timeouts = (connect_timeout_s, read_timeout_s)
        self._entries: dict[str, _Entry] = {}
        self._http: aiohttp.ClientSession | None = None
        self.fetches = 0  # how many times a token endpoint was called (tests and logs)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _entry(self, source: TokenSource) -> _Entry:
        e = self._entries.get(source.key)
        if e is None:
            e = self._entries[source.key] = _Entry(lock=asyncio.Lock())
        return e

    def _fresh(self, e: _Entry) -> bool:
        return e.token is not None and self._clock.now() < e.expires_at

    async def get(self, source: TokenSource) -> str:
        e = self._entry(source)
        if self._fresh(e):
            assert e.token is not None
            return e.token
        assert e.lock is not None
        async with e.lock:
            if self._fresh(e):  # another caller refreshed while we waited for the lock
                assert e.token is not None
                return e.token
            if self._http is None:
                self._http = session(*self._timeouts, limit=8)
            now = self._clock.now()
            self.fetches += 1
            try:
                token, ttl = await source.fetch(self._http, now)
            except TokenError as err:
                metrics.TOKEN_REFRESHES.labels(source.provider, "failed").inc()
                log.warning("token_refresh_failed", provider=source.provider, reason=err.reason)
                raise
            metrics.TOKEN_REFRESHES.labels(source.provider, "ok").inc()
            # Refresh `margin` early, but never sooner than half the lifetime (a short test token).
            e.token, e.expires_at = token, now + ttl - min(self._margin, ttl / 2)
            log.info("token_refreshed", provider=source.provider, expires_in=ttl)
            return token

    def invalidate(self, source: TokenSource, token: str) -> None:
        """The provider rejected `token`: drop it, unless a newer token already replaced it."""
        e = self._entry(source)
        if e.token == token:
            e.token, e.expires_at = None, 0.0
            metrics.TOKEN_REJECTIONS.labels(source.provider).inc()

    async def call(
        self,
        source: TokenSource,
        fn: Callable[[str], Awaitable[T]],
        rejected: Callable[[T], bool],
    ) -> T:
        """`fn(token)`; if the provider says the token is bad, refresh once and call again (once)."""
        token = await self.get(source)
        out = await fn(token)
        if not rejected(out):
            return out
        self.invalidate(source, token)
        return await fn(await self.get(source))
