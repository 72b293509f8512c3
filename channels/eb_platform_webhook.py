"""What the EB platform reports back (回传), posted to warnengine as signed EBD packages like ours:

- EBMStateResponse (播发状态): the broadcast state of one EBM and its coverage per area. Becomes terminal
  acks for the EBM's terminals in each area (`SpeakerAck`, the ack stage's input, so deliveries, live
  status and the closure report count them like MQTT acks): 2 播发中 → playing; 3 播发成功 → played where the
  area's coverage is 100 %, failed `eb_partial_coverage:<n>%` where it is less (which terminals did not
  play is not said: the village is not taken as reached); 4 失败 / 5 取消 → failed; 0/1 → received.
- EBRDTState (终端状态): terminal states → device health rows (running, recovered, broadcasting: online;
  off, fault: offline with that reason).
- EBMBrdLog (播发记录): the platform's broadcast log; each item as an EBMStateResponse, one by one.
- ConnectionCheck: the platform's heartbeat, answered.

Refused — counted (`warnengine_eb_platform_refused_total{reason}`), logged, dead-lettered, never
applied: a package that is not a valid tar or XML, a signature that fails, a state for an EBM we did not
send (eb_unknown_message), an area outside the county or not in the EBM, a terminal not in the directory.
Every package is answered with a signed EBDResponse (1 received; 2 parse failure; 4 signature failure;
5 refused, with why).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from channels.eb_package import open_package
from channels.eb_platform import EbPlatformChannel
from warnengine.model import AckState, SpeakerAck, command_id
from warnengine.model.records import EbMessage
from warnengine.wire.eb import (
    BRD_CANCELLED,
    BRD_DONE,
    BRD_FAILED,
    BRD_PLAYING,
    RESULT_OK,
    RESULT_OTHER,
    RESULT_PARSE,
    RESULT_SIGNATURE,
    TERM_BROADCASTING,
    TERM_FAULT,
    TERM_OFF,
    TERM_RECOVERED,
    TERM_RUNNING,
    BadEbd,
    BroadcastLog,
    ConnectionCheck,
    EbdResponse,
    EbmState,
    TerminalStates,
)
from warnengine.wire.eb_tar import MAX_PACKAGE_BYTES

log = structlog.get_logger("channels.eb_platform_webhook")

OnAcks = Callable[[list[SpeakerAck]], Awaitable[object]]
# Device status rows (devices/reports.py StatusReport.row) → the device ids not in the directory.
OnStatus = Callable[[Sequence[dict[str, Any]]], Awaitable[Sequence[str]]]

_OFFLINE = {TERM_OFF: "eb_off", TERM_FAULT: "eb_fault"}
_ONLINE = {TERM_RUNNING, TERM_RECOVERED, TERM_BROADCASTING}


class EbReports:
    def __init__(self, channel: EbPlatformChannel, on_acks: OnAcks, on_status: OnStatus) -> None:
        self.channel = channel
        self._on_acks = on_acks
        self._on_status = on_status
        self._county = channel.config.county_code[:6]

    async def ingest(self, raw: bytes) -> tuple[EbdResponse, str | None]:
        """(the answer, the EBDID it answers when known)."""
        cfg = self.channel.config
        try:
            ebd = open_package(raw, cfg.platform_public_key, cfg.platform_cert_sn)
        except BadEbd as bad:
            await self.channel.refuse(bad, raw, "report")
            code = RESULT_SIGNATURE if bad.reason == "eb_signature_failed" else RESULT_PARSE
            return EbdResponse(code, f"{bad.reason}: {bad.detail[:200]}"), None
        body, ebd_id = ebd.body, ebd.header.ebd_id
        try:
            if isinstance(body, EbmState):
                await self._state(body)
            elif isinstance(body, TerminalStates):
                await self._terminals(body)
            elif isinstance(body, BroadcastLog):
                await self._log(body, raw, ebd_id)
            elif not isinstance(body, ConnectionCheck):
                raise BadEbd("eb_unexpected_report", f"{ebd.header.ebd_type} is not a report")
        except BadEbd as bad:
            await self.channel.refuse(bad, raw, f"{ebd.header.ebd_type} {ebd_id}")
            return EbdResponse(RESULT_OTHER, f"{bad.reason}: {bad.detail[:200]}"), ebd_id
        return EbdResponse(RESULT_OK, "已接收完成 / received"), ebd_id

    async def _state(self, s: EbmState) -> None:
        rec = await self.channel.ledger.eb_lookup(s.ebm_id)
        if rec is None:
            raise BadEbd("eb_unknown_message", f"EBMStateResponse for EBM {s.ebm_id}, which we did not send")
        for c in s.coverage:
            if c.area_code[:6] != self._county:
                raise BadEbd("eb_area_outside_county", f"area {c.area_code} is not in county {self._county}")
            if c.area_code not in rec.areas:
                raise BadEbd("eb_area_not_in_message", f"area {c.area_code} is not in EBM {s.ebm_id}")
        devices = await self.channel.ledger.eb_devices(rec.areas)
        acks = _acks(rec, devices, s)
        if acks:
            await self._on_acks(acks)
        log.info("eb_state", ebm_id=s.ebm_id, state=s.state, acks=len(acks), warning_id=rec.warning_id)

    async def _log(self, log_: BroadcastLog, raw: bytes, ebd_id: str) -> None:
        """Each item like an EBMStateResponse; a log also lists messages of other senders, and one item
        refused (recorded with its reason) does not refuse the others."""
        for item in log_.items:
            try:
                await self._state(item)
            except BadEbd as bad:
                await self.channel.refuse(bad, raw, f"EBMBrdLog {ebd_id} item {item.ebm_id}")

    async def _terminals(self, t: TerminalStates) -> None:
        rows = []
        for term in t.terminals:
            if term.ebrid[1:7] != self._county:  # EBRID: level digit, then the 12-digit area code
                raise BadEbd(
                    "eb_area_outside_county", f"terminal {term.ebrid} is not in county {self._county}"
                )
            if term.state not in _ONLINE and term.state not in _OFFLINE:
                raise BadEbd("eb_bad_field", f"terminal {term.ebrid}: state code {term.state}")
            online = term.state in _ONLINE
            playing = "eb" if term.state == TERM_BROADCASTING else None
            reason = None if online else _OFFLINE[term.state]
            rows.append(
                {"device_id": term.ebrid, "online": online, "volume": None, "playing": playing}
                | {"firmware": None, "reason": reason}
            )
        unknown = await self._on_status(rows) if rows else []
        for device in unknown:
            await self.channel.refuse(
                BadEbd("eb_unknown_terminal", f"terminal {device} is not in the directory"),
                device.encode(),
                "EBRDTState",
            )


def _acks(rec: EbMessage, devices: dict[str, list[str]], s: EbmState) -> list[SpeakerAck]:
    """Per terminal behind the platform in the EBM's areas: the state the report gives its area."""
    cmd, at = command_id(rec.warning_id, rec.version), s.rpt_time.timestamp()
    percent = {c.area_code: c.percent for c in s.coverage}
    areas = list(percent) if percent else list(rec.areas)
    out = []
    for area in areas:
        state, reason = _area_state(s.state, percent.get(area, 100.0))
        out += [
            SpeakerAck(cmd_id=cmd, state=state, reason=reason, at=at, device_id=d)
            for d in devices.get(area, [])
        ]
    return out


def _area_state(code: int, percent: float) -> tuple[AckState, str | None]:
    if code == BRD_DONE:
        return (
            (AckState.PLAYED, None)
            if percent >= 100
            else (AckState.FAILED, f"eb_partial_coverage:{percent:g}%")
        )
    if code == BRD_PLAYING:
        return AckState.PLAYING, None
    if code == BRD_FAILED:
        return AckState.FAILED, "eb_broadcast_failed"
    if code == BRD_CANCELLED:
        return AckState.FAILED, "eb_broadcast_cancelled"
    return AckState.RECEIVED, None


def eb_platform_routes(reports: EbReports, path: str = "/webhooks/eb/ebd") -> list[web.RouteDef]:
    """POST a package (multipart field `file`, or the tar as the body) → a signed EBDResponse tar."""

    async def receive(request: web.Request) -> web.Response:
        if (request.content_length or 0) > MAX_PACKAGE_BYTES + 4096:
            return web.Response(status=413, text="package too large")
        raw = await _package_bytes(request)
        answer, related = await reports.ingest(raw)
        _, tar = reports.channel.packager.package("EBDResponse", answer, related)
        return web.Response(body=tar, content_type="application/x-tar")

    return [web.post(path, receive)]


async def _package_bytes(request: web.Request) -> bytes:
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            if isinstance(part, aiohttp.BodyPartReader) and part.name == "file":
                return bytes(await part.read(decode=False))[: MAX_PACKAGE_BYTES + 1]
        return b""
    return (await request.read())[: MAX_PACKAGE_BYTES + 1]
