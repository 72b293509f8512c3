"""The county emergency-broadcast (EB) platform's data package: the `EBD` document (GD/J 079–089-2018,
GY/T 385-2023 style) as warnengine writes and reads it. Field sources and choices: docs/eb-platform.md.

Pure data: no signing (channels/eb_package.py signs and packs), no I/O. `parse_ebd` never raises anything
but BadEbd, whose `reason` is a bounded metric label.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from warnengine.model import Hazard, HazardWarning, MsgType, Severity, Status

EBD_VERSION = "1.0"
CST = ZoneInfo("Asia/Shanghai")  # the platforms write local time without an offset
TIME_FMT = "%Y-%m-%d %H:%M:%S"
LANGUAGE = "zho"  # MsgContent/LanguageCode: ISO 639-2 Chinese

# MsgBasicInfo/MsgType: 1 实际播发 actual, 2 取消播发 cancel, 3 平台演练, 4 前端演练, 5 终端演练 (drill at
# the terminals: a warnengine drill is heard in the village, as its MQTT drills are).
MSG_ACTUAL, MSG_CANCEL, MSG_DRILL = "1", "2", "5"
# MsgBasicInfo/Severity: 1 特别重大 (red) … 4 一般 (blue).
SEVERITY_CODE = {Severity.RED: "1", Severity.ORANGE: "2", Severity.YELLOW: "3", Severity.BLUE: "4"}
# MsgBasicInfo/EventType: GB/T 35561-2017 class codes (the class, "00": the engine keeps no finer code).
EVENT_TYPE = {
    Hazard.FLOOD: "11A00",
    Hazard.METEO: "11B00",
    Hazard.EARTHQUAKE: "11C00",
    Hazard.GEOHAZARD: "11D00",
    Hazard.FOREST_FIRE: "11G00",
    Hazard.OTHER: "10000",
}
# EBDResponse/ResultCode.
RESULT_OK, RESULT_PARSE, RESULT_MISSING, RESULT_SIGNATURE, RESULT_OTHER = 1, 2, 3, 4, 5
RESULT_REASON = {
    0: "eb_unprocessed",
    RESULT_PARSE: "eb_parse_failed",
    RESULT_MISSING: "eb_data_missing",
    RESULT_SIGNATURE: "eb_signature_failed",
    RESULT_OTHER: "eb_other_error",
}
# EBMStateResponse/BrdStateCode: 0 未处理, 1 等待播发, 2 播发中, 3 播发成功, 4 播发失败, 5 播发取消.
BRD_WAITING, BRD_PLAYING, BRD_DONE, BRD_FAILED, BRD_CANCELLED = 1, 2, 3, 4, 5
# EBRDTState/EBRDT/StateCode: 1 开机/运行正常, 2 关机/停止运行, 3 故障, 4 故障恢复, 5 播发中.
TERM_RUNNING, TERM_OFF, TERM_FAULT, TERM_RECOVERED, TERM_BROADCASTING = 1, 2, 3, 4, 5
MAX_TEXT = 2000  # MsgDesc characters read: a platform answer is never a book


class BadEbd(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


# --- ids ---------------------------------------------------------------------------------------------


def check_ebrid(ebrid: str) -> str:
    """A 23-digit resource code (EBRID): level digit, 12-digit area code, 10 digits of type and number."""
    if len(ebrid) != 23 or not ebrid.isdigit():
        raise ValueError(f"an EBRID is 23 digits, got {ebrid!r}")
    return ebrid


def ebd_id(src_ebrid: str, day: date, seq: int) -> str:
    """EBDID, 41 digits: "10", the sender's EBRID, yyyymmdd, an 8-digit number of the day."""
    return f"10{check_ebrid(src_ebrid)}{day:%Y%m%d}{seq % 10**8:08d}"


def connection_check_id(src_ebrid: str) -> str:
    """A ConnectionCheck's EBDID: "01", the sender's EBRID, 16 zeros."""
    return f"01{check_ebrid(src_ebrid)}{0:016d}"


def ebm_id(src_ebrid: str, day: date, seq: int) -> str:
    """EBMID, 35 digits: the sender's EBRID, yyyymmdd, a 4-digit number of the day."""
    return f"{check_ebrid(src_ebrid)}{day:%Y%m%d}{seq % 10**4:04d}"


# --- the documents -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    ebd_id: str
    ebd_type: str
    src_ebrid: str
    dest_ebrid: str
    time: datetime
    related_ebd_id: str | None = None
    src_url: str | None = None  # where the sender takes answers (SRC/URL)


@dataclass(frozen=True)
class ConnectionCheck:
    rpt_time: datetime


@dataclass(frozen=True)
class Ebm:
    ebm_id: str
    msg_type: str
    sender_name: str
    sender_code: str
    sent_time: datetime
    event_type: str
    severity: str
    start_time: datetime
    end_time: datetime | None
    title: str
    text: str
    area_codes: tuple[str, ...]
    related_ebm_id: str | None = None
    language: str = LANGUAGE
    audio_url: str | None = None


@dataclass(frozen=True)
class EbdResponse:
    code: int
    desc: str = ""


@dataclass(frozen=True)
class AreaCoverage:
    area_code: str
    percent: float  # 0–100


@dataclass(frozen=True)
class EbmState:
    ebm_id: str
    rpt_time: datetime
    state: int
    desc: str = ""
    coverage: tuple[AreaCoverage, ...] = ()


@dataclass(frozen=True)
class TerminalState:
    ebrid: str
    state: int
    desc: str = ""
    rpt_time: datetime | None = None


@dataclass(frozen=True)
class TerminalStates:
    terminals: tuple[TerminalState, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class BroadcastLog:
    """EBMBrdLog (播发记录): the platform's record of what it broadcast in a period, one state per EBM
    (each item's `rpt_time` is the log's RptEndTime)."""

    items: tuple[EbmState, ...] = ()


Body = ConnectionCheck | Ebm | EbdResponse | EbmState | TerminalStates | BroadcastLog
TYPE_OF: dict[type, str] = {
    ConnectionCheck: "ConnectionCheck",
    Ebm: "EBM",
    EbdResponse: "EBDResponse",
    EbmState: "EBMStateResponse",
    TerminalStates: "EBRDTState",
    BroadcastLog: "EBMBrdLog",
}


@dataclass(frozen=True)
class Ebd:
    header: Header
    body: Body


def fmt_time(t: datetime) -> str:
    return t.astimezone(CST).strftime(TIME_FMT)


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    e = ET.SubElement(parent, tag)
    if text is not None:
        e.text = text
    return e


def to_xml(ebd: Ebd) -> bytes:
    """The EBDB file's bytes (UTF-8, with declaration): what the detached signature covers."""
    h = ebd.header
    root = ET.Element("EBD")
    _sub(root, "EBDVersion", EBD_VERSION)
    _sub(root, "EBDID", h.ebd_id)
    _sub(root, "EBDType", h.ebd_type)
    src = _sub(root, "SRC")
    _sub(src, "EBRID", h.src_ebrid)
    if h.src_url:
        _sub(src, "URL", h.src_url)
    _sub(_sub(root, "DEST"), "EBRID", h.dest_ebrid)
    _sub(root, "EBDTime", fmt_time(h.time))
    if h.related_ebd_id:
        _sub(_sub(root, "RelatedEBD"), "EBDID", h.related_ebd_id)
    _BUILD[type(ebd.body)](_sub(root, h.ebd_type), ebd.body)
    return xml_bytes(root)


def xml_bytes(root: ET.Element) -> bytes:
    """UTF-8 with the declaration the platforms write (double quotes)."""
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def _build_check(e: ET.Element, b: Body) -> None:
    assert isinstance(b, ConnectionCheck)
    _sub(e, "RptTime", fmt_time(b.rpt_time))


def _build_ebm(e: ET.Element, b: Body) -> None:
    assert isinstance(b, Ebm)
    _sub(e, "EBMVersion", "1")
    _sub(e, "EBMID", b.ebm_id)
    if b.related_ebm_id:
        _sub(_sub(e, "RelatedEBM"), "EBMID", b.related_ebm_id)
    info = _sub(e, "MsgBasicInfo")
    for tag, value in (
        ("MsgType", b.msg_type),
        ("SenderName", b.sender_name),
        ("SenderCode", b.sender_code),
        ("SentTime", fmt_time(b.sent_time)),
        ("EventType", b.event_type),
        ("Severity", b.severity),
        ("StartTime", fmt_time(b.start_time)),
    ):
        _sub(info, tag, value)
    if b.end_time:
        _sub(info, "EndTime", fmt_time(b.end_time))
    content = _sub(e, "MsgContent")
    _sub(content, "LanguageCode", b.language)
    _sub(content, "MsgTitle", b.title)
    _sub(content, "MsgDesc", b.text)
    _sub(content, "AreaCode", ",".join(b.area_codes))
    if b.audio_url:
        aux = _sub(content, "Auxiliary")
        _sub(aux, "AuxiliaryType", "2")  # audio file, fetched by the platform
        _sub(aux, "AuxiliaryDesc", b.audio_url)


def _build_response(e: ET.Element, b: Body) -> None:
    assert isinstance(b, EbdResponse)
    _sub(e, "ResultCode", str(b.code))
    _sub(e, "ResultDesc", b.desc)


def _build_state(e: ET.Element, b: Body) -> None:
    assert isinstance(b, EbmState)
    _sub(e, "RptTime", fmt_time(b.rpt_time))
    _build_state_item(e, b)


def _build_state_item(e: ET.Element, b: EbmState) -> None:
    _sub(_sub(e, "EBM"), "EBMID", b.ebm_id)
    _sub(e, "BrdStateCode", str(b.state))
    _sub(e, "BrdStateDesc", b.desc)
    for c in b.coverage:  # one Coverage per area: its own rate
        cov = _sub(e, "Coverage")
        _sub(cov, "CoverageRate", f"{c.percent:g}")
        _sub(cov, "AreaCode", c.area_code)


def _build_terminals(e: ET.Element, b: Body) -> None:
    assert isinstance(b, TerminalStates)
    for t in b.terminals:
        dt = _sub(e, "EBRDT")
        if t.rpt_time:
            _sub(dt, "RptTime", fmt_time(t.rpt_time))
        _sub(dt, "EBRID", t.ebrid)
        _sub(dt, "StateCode", str(t.state))
        _sub(dt, "StateDesc", t.desc)


def _build_log(e: ET.Element, b: Body) -> None:
    assert isinstance(b, BroadcastLog)
    if b.items:
        params = _sub(e, "Params")
        _sub(params, "RptStartTime", fmt_time(min(i.rpt_time for i in b.items)))
        _sub(params, "RptEndTime", fmt_time(max(i.rpt_time for i in b.items)))
    for item in b.items:
        _build_state_item(_sub(e, "EBMBrdItem"), item)


_BUILD = {
    BroadcastLog: _build_log,
    ConnectionCheck: _build_check,
    Ebm: _build_ebm,
    EbdResponse: _build_response,
    EbmState: _build_state,
    TerminalStates: _build_terminals,
}


def ebm_for(
    w: HazardWarning,
    *,
    ebm_id: str,
    text: str,
    area_codes: tuple[str, ...],
    sender_name: str,
    sender_code: str,
    now: datetime,
    related_ebm_id: str | None = None,
    audio_url: str | None = None,
) -> Ebm:
    """The EBM of one warning version: `text` as the loudspeakers read it (dispatch/compose.py's, drill
    prefix included); a Cancel is 取消播发 of the message it relates to."""
    cancel = w.msg_type == MsgType.CANCEL
    drill = w.status == Status.EXERCISE
    title = w.headline or f"{w.event}预警"
    return Ebm(
        ebm_id=ebm_id,
        related_ebm_id=related_ebm_id,
        msg_type=MSG_CANCEL if cancel else MSG_DRILL if drill else MSG_ACTUAL,
        sender_name=sender_name,
        sender_code=sender_code,
        sent_time=now,
        event_type=EVENT_TYPE[w.hazard],
        severity=SEVERITY_CODE[w.severity],
        start_time=now,
        end_time=w.expires,
        title=("【演练】" + title) if drill else title,
        text=text,
        area_codes=area_codes,
        audio_url=audio_url,
    )
