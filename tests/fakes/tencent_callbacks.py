"""What the Tencent SMS fake pushes to the business's callback URLs, as Tencent does (and the background
pusher the WeChat fake shares).

- Status reports (短信下发状态通知, https://www.tencentcloud.com/document/product/382/43547): a JSON array of
  `user_receive_time` ("YYYY-MM-DD HH:MM:SS", Beijing time), `nationcode`, `mobile` (without the country
  code), `report_status` SUCCESS | FAIL, `errmsg` (DELIVRD on success), `description`, `sid` (= SerialNo).
  One POST per SendSms request carries its reports (the page: one callback may hold several results).
- Replies (短信回复, https://www.tencentcloud.com/document/product/382/43548): one JSON object `extend`,
  `mobile`, `nationcode`, `sign`, `text`, `time` (UNIX seconds).
Tencent documents no signature, token or header on either, so the fake sends none: the URL is all the
receiver has (our routes put a secret in its path).
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

BEIJING = ZoneInfo("Asia/Shanghai")


def split_number(number: str) -> tuple[str, str]:
    """(nationcode, mobile) of an E.164 number, as Tencent's callbacks carry it."""
    code = "86" if number.startswith("+86") else number[1:3]
    return code, number[1 + len(code) :]


def status_report(number: str, serial: str, failure: tuple[str, str] | None, at: float) -> dict[str, Any]:
    code, mobile = split_number(number)
    errmsg, description = failure or ("DELIVRD", "用户短信送达成功")
    return {
        "user_receive_time": datetime.fromtimestamp(at, BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
        "nationcode": code,
        "mobile": mobile,
        "report_status": "FAIL" if failure else "SUCCESS",
        "errmsg": errmsg,
        "description": description,
        "sid": serial,
    }


class CallbackPusher:
    """POSTs JSON to the callback URLs in the background, records each answer (status, body)."""

    def __init__(self) -> None:
        self.pushed: list[tuple[int, Any]] = []  # (HTTP status, the JSON sent); 0: unreachable
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    def spawn(self, url: str, body: Any, delay_s: float) -> None:
        task = asyncio.get_running_loop().create_task(self._later(url, body, delay_s))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _later(self, url: str, body: Any, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        await self.post(url, body)

    async def post(self, url: str, body: Any) -> int:
        """POST `body` as JSON, or a str as XML (WeChat's callbacks); returns the HTTP status (0: none)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        kw: dict[str, Any] = (
            {"data": body.encode(), "headers": {"Content-Type": "text/xml"}}
            if isinstance(body, str)
            else {"json": body}
        )
        try:
            async with self._session.post(url, **kw) as r:
                await r.read()
                status = r.status
        except aiohttp.ClientError:
            status = 0
        self.pushed.append((status, body))
        return status

    async def settle(self) -> None:
        """Wait for every push under way."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None


def reply_body(number: str, text: str, sign: str, at: float | None = None) -> dict[str, Any]:
    code, mobile = split_number(number)
    return {
        "extend": "",
        "mobile": mobile,
        "nationcode": code,
        "sign": sign,
        "text": text,
        "time": int(time.time() if at is None else at),
    }
