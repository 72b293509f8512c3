"""A local FCM HTTP v1 API and Google OAuth2 token endpoint.

- `POST /token`: the JWT-bearer grant. Verifies the RS256 assertion with the service account's public
  key, `iss` = client_email, `aud` = this endpoint, the firebase.messaging scope, a lifetime of at most an
  hour and not expired on the injected clock; answers `{"access_token", "expires_in", "token_type"}` or
  400 `{"error": "invalid_grant", "error_description"}`.
- `POST /v1/projects/{project}/messages:send`: Bearer token; one `message.token`; `android.ttl` as
  "<seconds>s"; data values strings; `validate_only` checks everything and delivers nothing. Errors are
  google.rpc bodies with an FcmError detail: 404 UNREGISTERED, 400 INVALID_ARGUMENT, 401 UNAUTHENTICATED,
  429 QUOTA_EXCEEDED (+ Retry-After) in storms, `error_status` (500 INTERNAL / 503 UNAVAILABLE) for
  injected errors, before anything is delivered.

Strict like FCM (https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode and
https://firebase.google.com/docs/cloud-messaging/error-codes):
- "THIRD_PARTY_AUTH_ERROR (HTTP error code = 401) APNs certificate or web push auth key was invalid or
  missing": for a token in `apns_tokens` while `apns_broken` is set, with a perfectly valid OAuth token. A
  client that refreshes its OAuth token on every 401 sends twice for nothing.
- A token for a project the service account may not use: 403 with `status` PERMISSION_DENIED and no
  FcmError detail (SENDER_ID_MISMATCH is a registration token of another sender, not a wrong project; the
  exact body for a wrong project is not documented, so the fake answers the plain google.rpc denial).
- "Message too big: ... 4096 bytes for most messages ... This includes both the keys and the values":
  counted here, strictly, as the UTF-8 bytes of every key and value in `notification`, `data`,
  `android.notification` and `apns.payload` → 400 INVALID_ARGUMENT.

`delivered[token]` counts messages accepted per registration token.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
from collections import Counter
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.faults import FakeServer, Faults
from warnengine.clock import Clock, SystemClock

PROJECT = "county-warn-test"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
_TTL = re.compile(r"\d+(\.\d{1,9})?s")
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED"}
_STATUS |= {500: "INTERNAL", 503: "UNAVAILABLE", 403: "PERMISSION_DENIED"}
MAX_PAYLOAD = 4096  # bytes of keys and values (FCM ErrorCode reference, "Message too big")


def payload_bytes(msg: dict[str, Any]) -> int:
    """The size FCM's limit applies to, counted strictly: every key and string value (recursively) of the
    notification, data, android.notification and apns.payload parts, in UTF-8."""

    def size(v: Any) -> int:
        if isinstance(v, dict):
            return sum(len(str(k).encode()) + size(x) for k, x in v.items())
        if isinstance(v, list):
            return sum(size(x) for x in v)
        return len(str(v).encode())

    parts = [msg.get("notification"), msg.get("data")]
    parts += [(msg.get("android") or {}).get("notification"), (msg.get("apns") or {}).get("payload")]
    return sum(size(p) for p in parts if p)


def service_account(token_uri: str, key: rsa.RSAPrivateKey | None = None) -> dict[str, Any]:
    """A service-account key file's fields, with a fresh RSA key."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": f"warn-sender@{PROJECT}.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": token_uri,
    }


def _b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def fcm_error(status: int, message: str, code: str | None = None, **headers: str) -> web.Response:
    err: dict[str, Any] = {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}
    if code:
        err["details"] = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]
    return web.json_response({"error": err}, status=status, headers=headers or None)


class FakeFcm(FakeServer):
    def __init__(
        self,
        *,
        clock: Clock | None = None,
        faults: Faults | None = None,
        registered: set[str] | None = None,
        unregistered: set[str] | None = None,
        token_ttl_s: int = 3599,
    ) -> None:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v1/projects/{project}/messages:send", self._send)
        super().__init__(app)
        self.clock = clock or SystemClock()
        self.faults = faults or Faults()
        self.registered = registered if registered is not None else set()
        self.unregistered = unregistered if unregistered is not None else set()
        self.token_ttl_s = token_ttl_s
        self.accounts: dict[str, rsa.RSAPublicKey] = {}  # client_email → public key
        self.tokens: dict[str, float] = {}
        self.token_calls = 0
        self.delivered: Counter[str] = Counter()
        self.messages: list[dict[str, Any]] = []
        self.requests = 0
        self.validated = 0  # validate_only requests that passed
        self.apns_tokens: set[str] = set()  # iOS devices: need the project's APNs credentials...
        self.apns_broken = False  # ...which are missing or expired: THIRD_PARTY_AUTH_ERROR (401)

    async def __aenter__(self) -> FakeFcm:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    def new_service_account(self) -> dict[str, Any]:
        info = service_account(self.token_uri)
        key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        self.accounts[info["client_email"]] = key.public_key()
        return info

    def revoke_all_tokens(self) -> None:
        self.tokens.clear()

    async def _token(self, request: web.Request) -> web.Response:
        self.token_calls += 1
        form = await request.post()

        def bad(why: str) -> web.Response:
            return web.json_response({"error": "invalid_grant", "error_description": why}, status=400)

        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        parts = str(form.get("assertion", "")).split(".")
        if len(parts) != 3:
            return bad("Invalid JWT: malformed")
        try:
            header, claims = json.loads(_b64d(parts[0])), json.loads(_b64d(parts[1]))
        except ValueError:
            return bad("Invalid JWT: not JSON")
        pub = self.accounts.get(claims.get("iss", ""))
        if header.get("alg") != "RS256" or pub is None:
            return bad("Invalid JWT: unknown issuer or algorithm")
        try:
            pub.verify(
                _b64d(parts[2]), f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            return bad("Invalid JWT Signature.")
        now = self.clock.now()
        iat, exp = claims.get("iat", 0), claims.get("exp", 0)
        if claims.get("aud") != self.token_uri or SCOPE not in str(claims.get("scope", "")).split():
            return bad("Invalid JWT: aud or scope")
        if not (0 < exp - iat <= 3600) or exp <= now or iat > now + 300:
            return bad(
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe"
            )
        token = "ya29." + secrets.token_urlsafe(32)
        self.tokens[token] = now + self.token_ttl_s
        return web.json_response(
            {"access_token": token, "expires_in": self.token_ttl_s, "token_type": "Bearer"}
        )

    async def _send(self, request: web.Request) -> web.Response:
        self.requests += 1
        auth = request.headers.get("Authorization", "")
        exp = self.tokens.get(auth.removeprefix("Bearer "))
        if not auth.startswith("Bearer ") or exp is None or exp <= self.clock.now():
            return fcm_error(401, "Request had invalid authentication credentials.")
        if request.match_info["project"] != PROJECT:
            return fcm_error(403, "Permission 'cloudmessaging.messages.create' denied on resource")
        f = self.faults
        if f.latency_s:
            await asyncio.sleep(f.latency_s)
        if f.in_storm(self.elapsed()):
            return fcm_error(429, "Quota exceeded", "QUOTA_EXCEEDED", **{"Retry-After": str(f.retry_after_s)})
        if f.error():
            code = "UNAVAILABLE" if f.error_status == 503 else "INTERNAL"
            return fcm_error(f.error_status if f.error_status in (500, 503) else 500, "Internal error", code)
        try:
            body = json.loads(await request.read())
            msg = body["message"]
            token = msg["token"]
        except (ValueError, KeyError, TypeError):
            return fcm_error(400, "Invalid JSON payload received.", "INVALID_ARGUMENT")
        refused = self._refuse(msg, token)
        if refused is not None:
            return refused
        if token in self.apns_tokens and self.apns_broken:
            return fcm_error(401, "Auth error from APNS or Web Push Service", "THIRD_PARTY_AUTH_ERROR")
        if body.get("validate_only") is True:
            self.validated += 1
            return web.json_response({"name": f"projects/{PROJECT}/messages/fake_message_id"})
        self.delivered[token] += 1
        self.messages.append(msg)
        if f.hang():
            await asyncio.sleep(f.hang_s)
        return web.json_response({"name": f"projects/{PROJECT}/messages/0:{secrets.randbelow(10**16)}"})

    def _refuse(self, msg: dict[str, Any], token: Any) -> web.Response | None:
        """FCM's refusal of this message, before anything is delivered, or None."""
        ttl = msg.get("android", {}).get("ttl")
        if ttl is not None and not _TTL.fullmatch(str(ttl)):
            return fcm_error(
                400, "Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration)"
            )
        if any(not isinstance(v, str) for v in msg.get("data", {}).values()):
            return fcm_error(400, "Invalid value at 'message.data[0].value' (TYPE_STRING)")
        if payload_bytes(msg) > MAX_PAYLOAD:
            return fcm_error(400, "Message is too big", "INVALID_ARGUMENT")
        if token in self.unregistered:
            return fcm_error(404, "Requested entity was not found.", "UNREGISTERED")
        if token not in self.registered:
            return fcm_error(
                400, "The registration token is not a valid FCM registration token", "INVALID_ARGUMENT"
            )
        return None
