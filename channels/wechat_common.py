"""What the WeChat Official Account and WeCom adapters (and their callbacks) share: a message API call
with an access token that is refreshed once when WeChat says it is no longer valid, and the ack key."""

from __future__ import annotations

from typing import Any

import aiohttp

from channels.people_http import HttpAdapter, read_json
from channels.tokens import WX_TOKEN_ERRCODES, TokenService, TokenSource

ACK_KEY = "ack"  # the WeCom card button key the callback recognises as an acknowledgement
Reply = tuple[int, Any, dict[str, Any] | None]  # HTTP status, headers, the JSON body (None: not JSON)


class WeChatApiAdapter(HttpAdapter):
    """An HTTP adapter whose send is one POST to `_url` with `?access_token=`."""

    source: TokenSource
    tokens: TokenService
    _url: str
    _http: aiohttp.ClientSession | None

    async def call(self, body: dict[str, Any]) -> Reply:
        """POST with a token; a token WeChat rejects is refreshed once (TokenService), then reported."""
        return await self.tokens.call(self.source, lambda t: self._post(t, body), token_rejected)

    async def _post(self, token: str, body: dict[str, Any]) -> Reply:
        assert self._http is not None
        async with self._http.post(self._url, params={"access_token": token}, json=body) as resp:
            return resp.status, resp.headers, await read_json(resp)


def token_rejected(out: Reply) -> bool:
    data = out[2]
    return data is not None and data.get("errcode") in WX_TOKEN_ERRCODES
