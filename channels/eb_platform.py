"""Loudspeakers through the county's emergency-broadcast (EB) platform (县级应急广播平台): the loudspeaker
channel provider beside MQTT for terminals registered `provider: eb` in devices.csv.

warnengine is the release side (预警发布端). Each warning version becomes one EBM (its id kept for the
version's re-sends) covering the villages of the batch, in a signed EBD package posted as a tar
(multipart field `file`, as the field implementations post it); the platform answers with a signed
EBDResponse. Its later reports (EBMStateResponse, EBRDTState) come to channels/eb_platform_webhook.py.
A platform that does not answer is tried `attempts` times with exponential backoff; then the deliveries
fail retryable with `eb_platform_down`, so they stay open with that reason (the villages' fallback reads
it). Formats and choices: docs/eb-platform.md.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import aiohttp
import structlog
from prometheus_client import Counter
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from channels.base import Outgoing, SendResult
from channels.eb_package import EbPackager, open_package
from warnengine.clock import Clock, SystemClock
from warnengine.model import Channel
from warnengine.model.records import EbMessage
from warnengine.wire.eb import (
    CST,
    RESULT_OK,
    RESULT_REASON,
    BadEbd,
    ConnectionCheck,
    EbdResponse,
    ebm_for,
)
from warnengine.wire.eb_tar import tar_name

log = structlog.get_logger("channels.eb_platform")

EB_REQUESTS = Counter(
    "warnengine_eb_platform_requests_total",
    "Packages posted to the emergency-broadcast platform, by EBD type and outcome",
    ["type", "outcome"],
)
EB_REFUSED = Counter(
    "warnengine_eb_platform_refused_total",
    "Platform answers and reports refused (recorded with the reason, never applied), by reason",
    ["reason"],
)

# (stage, reason, detail, payload, source, key): the worker's dead-letter function, or Store.dead_letter.
DeadLetter = Callable[[str, str, str, bytes, str | None, str | None], Awaitable[object]]


class PlatformUnavailable(Exception):
    """No usable HTTP answer: connection refused, timeout, 5xx."""


@dataclass(frozen=True)
class EbPlatformConfig:
    url: str  # the platform's package endpoint
    sender_name: str  # MsgBasicInfo/SenderName: the releasing bureau
    sender_code: str  # MsgBasicInfo/SenderCode
    county_code: str  # 12 digits: every area code we send or accept is inside it
    platform_public_key: str  # SM2, 128/130 hex digits: the platform's answers are verified with it
    platform_cert_sn: str | None = None  # when set, answers must name this certificate serial
    timeout_s: float = 10.0
    attempts: int = 3
    backoff_s: float = 0.5
    audio_url: str | None = None  # optional audio reference (MsgContent/Auxiliary) for every EBM


class EbLedger(Protocol):
    """The record of EBM ids and of the terminals behind the platform (warnengine/db/store/eb.py): shared
    by every worker and the report endpoint, and kept across restarts."""

    async def eb_message(
        self, warning_id: str, version: int, new_id: Callable[[], str], areas: Sequence[str]
    ) -> str: ...

    async def eb_lookup(self, ebm_id: str) -> EbMessage | None: ...

    async def eb_previous(self, warning_id: str, version: int) -> str | None: ...

    async def eb_devices(self, village_codes: Sequence[str] | None = None) -> dict[str, list[str]]: ...


class EbPlatformChannel:
    kind = Channel.LOUDSPEAKER
    name = "eb-platform"
    batch_size = 500
    rate_per_s: float | None = None

    def __init__(
        self,
        config: EbPlatformConfig,
        packager: EbPackager,
        ledger: EbLedger,
        *,
        dead_letter: DeadLetter | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.packager = packager
        self.ledger = ledger
        self._dead_letter = dead_letter
        self._clock = clock or SystemClock()
        self._session: aiohttp.ClientSession | None = None
        self._connected = False
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """The last ConnectionCheck or package got a signed answer."""
        return self._connected

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.timeout_s))

    async def stop(self) -> None:
        """Stops the heartbeat first (a check in flight is cancelled, not left on a closed session), then
        closes the HTTP session. The worker stops it through its loudspeaker router."""
        beat, self._heartbeat = self._heartbeat, None
        if beat is not None and not beat.done():
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        if self._session is not None:
            await self._session.close()
            self._session = None

    def start_heartbeat(self, interval_s: float) -> None:
        """A ConnectionCheck every `interval_s` until `stop` (once: a second call keeps the running one)."""
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(self.heartbeat_forever(interval_s), name="eb-heartbeat")

    @property
    def heartbeat_running(self) -> bool:
        return self._heartbeat is not None and not self._heartbeat.done()

    async def send_batch(self, batch: Sequence[Outgoing]) -> list[SendResult]:
        """One EBM per warning version in the batch; every delivery of a version shares its outcome."""
        by_version: dict[tuple[str, int], list[Outgoing]] = defaultdict(list)
        results: dict[str, SendResult] = {}
        for o in batch:
            if o.warning is None:
                results[o.delivery_id] = SendResult(o.delivery_id, ok=False, reason="eb_no_warning")
            else:
                by_version[(o.warning.warning_id, o.warning.version)].append(o)
        for outs in by_version.values():
            outcome = await self._send_version(outs)
            for o in outs:
                results[o.delivery_id] = replace(outcome, delivery_id=o.delivery_id)
        return [results[o.delivery_id] for o in batch]

    async def _send_version(self, outs: list[Outgoing]) -> SendResult:
        w = outs[0].warning
        assert w is not None
        areas = tuple(sorted({o.village_code for o in outs}))
        # One EBM id per warning version, kept for its re-sends (a platform recognises the message).
        ebm_id = await self.ledger.eb_message(w.warning_id, w.version, self.packager.new_ebm_id, areas)
        now = datetime.fromtimestamp(self._clock.now(), CST)
        ebm = ebm_for(
            w,
            ebm_id=ebm_id,
            text=str(outs[0].body.get("text", "")),
            area_codes=areas,
            sender_name=self.config.sender_name,
            sender_code=self.config.sender_code,
            now=now,
            related_ebm_id=await self.ledger.eb_previous(w.warning_id, w.version),
            audio_url=self.config.audio_url,
        )
        ebd, tar = self.packager.package("EBM", ebm)
        bound = log.bind(warning_id=w.warning_id, version=w.version, ebm_id=ebm_id, villages=len(areas))
        answer = await self._exchange("EBM", ebd.header.ebd_id, tar)
        if isinstance(answer, str):
            bound.warning("eb_send_failed", reason=answer)
            return SendResult("", ok=False, retryable=True, reason=answer, code=answer, provider_fault=True)
        if answer.code == RESULT_OK:
            bound.info("eb_sent", ebd_id=ebd.header.ebd_id)
            return SendResult("", ok=True, provider_ref=ebm_id)
        code = RESULT_REASON.get(answer.code, "eb_other_error")
        bound.warning("eb_refused", result_code=answer.code, desc=answer.desc[:200])
        # Unprocessed (0) and "other" (5) may pass; a package the platform cannot parse or verify will not.
        retry = answer.code in (0, 5)
        return SendResult("", ok=False, retryable=retry, reason=f"{code}: {answer.desc[:200]}", code=code)

    async def check_link(self) -> bool:
        """One ConnectionCheck (heartbeat); sets `connected`."""
        now = datetime.fromtimestamp(self._clock.now(), CST)
        ebd, tar = self.packager.package("ConnectionCheck", ConnectionCheck(now))
        answer = await self._exchange("ConnectionCheck", ebd.header.ebd_id, tar)
        return not isinstance(answer, str) and answer.code == RESULT_OK

    async def heartbeat_forever(self, interval_s: float) -> None:
        while True:
            with contextlib.suppress(Exception):  # logged in _exchange; one failed check never stops them
                await self.check_link()
            await asyncio.sleep(interval_s)

    async def _exchange(self, ebd_type: str, ebd_id: str, tar: bytes) -> EbdResponse | str:
        """The platform's verified EBDResponse, or the reason there is none (eb_platform_down …)."""
        try:
            raw = await self._post_with_retries(ebd_id, tar)
        except PlatformUnavailable as e:
            self._connected = False
            EB_REQUESTS.labels(ebd_type, "down").inc()
            log.warning("eb_platform_down", ebd_type=ebd_type, error=str(e)[:200])
            return "eb_platform_down"
        try:
            ebd = open_package(raw, self.config.platform_public_key, self.config.platform_cert_sn)
            if not isinstance(ebd.body, EbdResponse):
                raise BadEbd("eb_unexpected_answer", f"{ebd.header.ebd_type} instead of EBDResponse")
        except BadEbd as bad:
            self._connected = False
            EB_REQUESTS.labels(ebd_type, "bad_answer").inc()
            await self.refuse(bad, raw, f"answer to {ebd_type} {ebd_id}")
            return bad.reason
        self._connected = True
        EB_REQUESTS.labels(ebd_type, "answered" if ebd.body.code == RESULT_OK else "refused").inc()
        return ebd.body

    async def refuse(self, bad: Exception, payload: bytes, what: str) -> None:
        """Record a bad answer or report: counted, logged, dead-lettered with the reason; never applied."""
        reason = str(getattr(bad, "reason", "eb_bad_input"))
        detail = str(getattr(bad, "detail", bad))
        EB_REFUSED.labels(reason).inc()
        log.warning("eb_input_refused", reason=reason, detail=detail[:200], what=what)
        if self._dead_letter is not None:
            text = f"{what}: {detail[:300]} (应急广播平台回执无效，未采用 / EB platform input refused)"
            await self._dead_letter("eb_platform", reason, text, payload[:4096], "eb", what[:200])

    async def _post_with_retries(self, ebd_id: str, tar: bytes) -> bytes:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(max(1, self.config.attempts)),
            wait=wait_exponential(multiplier=self.config.backoff_s, max=30),
            retry=retry_if_exception_type(PlatformUnavailable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._post(ebd_id, tar)
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    async def _post(self, ebd_id: str, tar: bytes) -> bytes:
        await self.start()
        assert self._session is not None
        form = aiohttp.FormData()
        form.add_field("file", tar, filename=tar_name(ebd_id), content_type="application/x-tar")
        try:
            async with self._session.post(self.config.url, data=form) as resp:
                body = await resp.read()
                if resp.status >= 500:
                    raise PlatformUnavailable(f"HTTP {resp.status}")
                return body
        except (aiohttp.ClientError, TimeoutError) as e:
            raise PlatformUnavailable(repr(e)[:200]) from e
