"""Reading an EBD document (warnengine/wire/eb.py) from the platform: strict where we act on a field,
lenient about namespaces (some platforms put every element in one) and about fields we ignore."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from warnengine.wire.eb import (
    CST,
    MAX_TEXT,
    TIME_FMT,
    AreaCoverage,
    BadEbd,
    Body,
    BroadcastLog,
    ConnectionCheck,
    Ebd,
    EbdResponse,
    Ebm,
    EbmState,
    Header,
    TerminalState,
    TerminalStates,
)

MAX_ITEMS = 10_000  # coverage areas or terminals in one document


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _child(e: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in e if _local(c.tag) == name), None)


def _children(e: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in e if _local(c.tag) == name]


def _text(e: ET.Element, path: str, *, required: bool = True) -> str:
    node: ET.Element | None = e
    for name in path.split("/"):
        node = _child(node, name) if node is not None else None
    text = (node.text or "").strip() if node is not None else ""
    if required and not text:
        raise BadEbd("eb_data_missing", f"{path} is missing")
    return text[:MAX_TEXT]


def _int(e: ET.Element, path: str) -> int:
    text = _text(e, path)
    if not text.isdigit() or len(text) > 4:
        raise BadEbd("eb_bad_field", f"{path} is not a small number: {text[:20]!r}")
    return int(text)


def _time(e: ET.Element, path: str, *, required: bool = True) -> datetime | None:
    text = _text(e, path, required=required)
    if not text:
        return None
    try:
        return datetime.strptime(text, TIME_FMT).replace(tzinfo=CST)
    except ValueError:
        raise BadEbd("eb_bad_field", f"{path} is not a time: {text[:30]!r}") from None


def _digits(text: str, path: str) -> str:
    if not text.isdigit() or len(text) > 64:
        raise BadEbd("eb_bad_field", f"{path} is not a code: {text[:70]!r}")
    return text


def _percent(text: str) -> float:
    try:
        value = float(text.removesuffix("%"))
    except ValueError:
        raise BadEbd("eb_bad_field", f"CoverageRate is not a number: {text[:20]!r}") from None
    if not 0 <= value <= 100:
        raise BadEbd("eb_bad_field", f"CoverageRate {value} is not a percentage")
    return value


def _root(data: bytes, name: str, not_xml: str, not_it: str) -> ET.Element:
    """The root element `name` of `data`; no DTD, entity or external reference is ever followed."""
    try:
        root: ET.Element = SafeET.fromstring(data)
    except (ET.ParseError, DefusedXmlException, ValueError) as e:
        raise BadEbd(not_xml, str(e)[:200]) from None
    if _local(root.tag) != name:
        raise BadEbd(not_it, f"root element {_local(root.tag)[:40]!r}")
    return root


def parse_ebd(data: bytes) -> Ebd:
    """The document, or BadEbd (not XML, an entity or DTD, a type we do not take, a field missing)."""
    root = _root(data, "EBD", "eb_not_xml", "eb_not_ebd")
    ebd_type = _text(root, "EBDType")
    reader = _READ.get(ebd_type)
    if reader is None:
        raise BadEbd("eb_unknown_type", f"EBDType {ebd_type[:40]!r}")
    time = _time(root, "EBDTime")
    assert time is not None
    header = Header(
        ebd_id=_digits(_text(root, "EBDID"), "EBDID"),
        ebd_type=ebd_type,
        src_ebrid=_digits(_text(root, "SRC/EBRID"), "SRC/EBRID"),
        dest_ebrid=_digits(_text(root, "DEST/EBRID"), "DEST/EBRID"),
        time=time,
        related_ebd_id=_text(root, "RelatedEBD/EBDID", required=False) or None,
        src_url=_text(root, "SRC/URL", required=False) or None,
    )
    body = _child(root, ebd_type)
    if body is None:
        raise BadEbd("eb_data_missing", f"no {ebd_type} element")
    return Ebd(header, reader(body, time))


def _read_check(e: ET.Element, _: datetime) -> Body:
    rpt = _time(e, "RptTime")
    assert rpt is not None
    return ConnectionCheck(rpt)


def _read_response(e: ET.Element, _: datetime) -> Body:
    return EbdResponse(_int(e, "ResultCode"), _text(e, "ResultDesc", required=False))


def _read_state(e: ET.Element, _: datetime) -> Body:
    rpt = _time(e, "RptTime")
    assert rpt is not None
    return _state_item(e, rpt)


def _read_log(e: ET.Element, sent: datetime) -> Body:
    rpt = _time(e, "Params/RptEndTime", required=False) or sent  # no Params: as of the EBD's time
    return BroadcastLog(tuple(_state_item(i, rpt) for i in _children(e, "EBMBrdItem")[:MAX_ITEMS]))


def _state_item(e: ET.Element, rpt: datetime) -> EbmState:
    coverage: list[AreaCoverage] = []
    for cov in _children(e, "Coverage")[:MAX_ITEMS]:
        percent = _percent(_text(cov, "CoverageRate"))
        for code in _text(cov, "AreaCode").replace("，", ",").split(","):  # one rate for each area listed
            if code.strip():
                coverage.append(AreaCoverage(_digits(code.strip(), "Coverage/AreaCode"), percent))
    return EbmState(
        ebm_id=_digits(_text(e, "EBM/EBMID"), "EBM/EBMID"),
        rpt_time=rpt,
        state=_int(e, "BrdStateCode"),
        desc=_text(e, "BrdStateDesc", required=False),
        coverage=tuple(coverage),
    )


def _read_terminals(e: ET.Element, _: datetime) -> Body:
    out = []
    for dt in _children(e, "EBRDT")[:MAX_ITEMS]:
        out.append(
            TerminalState(
                ebrid=_digits(_text(dt, "EBRID"), "EBRDT/EBRID"),
                state=_int(dt, "StateCode"),
                desc=_text(dt, "StateDesc", required=False),
                rpt_time=_time(dt, "RptTime", required=False),
            )
        )
    return TerminalStates(tuple(out))


def _read_ebm(e: ET.Element, _: datetime) -> Body:
    """Read back (the fake platform, `eb pack` tests): every field the engine writes."""
    start = _time(e, "MsgBasicInfo/StartTime")
    # SentTime (LiShui's field); some platforms write SendTime (docs/eb-platform.md)
    sent = _time(e, "MsgBasicInfo/SentTime", required=False) or _time(e, "MsgBasicInfo/SendTime")
    assert start is not None and sent is not None
    areas = tuple(c for c in _text(e, "MsgContent/AreaCode").split(",") if c)
    return Ebm(
        ebm_id=_digits(_text(e, "EBMID"), "EBMID"),
        related_ebm_id=_text(e, "RelatedEBM/EBMID", required=False) or None,
        msg_type=_text(e, "MsgBasicInfo/MsgType"),
        sender_name=_text(e, "MsgBasicInfo/SenderName"),
        sender_code=_text(e, "MsgBasicInfo/SenderCode"),
        sent_time=sent,
        event_type=_text(e, "MsgBasicInfo/EventType"),
        severity=_text(e, "MsgBasicInfo/Severity"),
        start_time=start,
        end_time=_time(e, "MsgBasicInfo/EndTime", required=False),
        language=_text(e, "MsgContent/LanguageCode"),
        title=_text(e, "MsgContent/MsgTitle"),
        text=_text(e, "MsgContent/MsgDesc", required=False),
        area_codes=tuple(_digits(a, "MsgContent/AreaCode") for a in areas),
        audio_url=_text(e, "MsgContent/Auxiliary/AuxiliaryDesc", required=False) or None,
    )


_READ: dict[str, Callable[[ET.Element, datetime], Body]] = {
    "ConnectionCheck": _read_check,
    "EBM": _read_ebm,
    "EBDResponse": _read_response,
    "EBMStateResponse": _read_state,
    "EBRDTState": _read_terminals,
    "EBMBrdLog": _read_log,
}


_SIGNATURE_FIELDS = (
    "RelatedEBD/EBDID",
    "SignatureCert/IssuerID",
    "SignatureCert/CertSN",
    "SignatureTime",
    "DigestAlgorithm",
    "SignatureAlgorithm",
    "SignatureValue",
)


def parse_signature_xml(data: bytes) -> dict[str, str]:
    """The detached signature's fields by their leaf name (EBDID, IssuerID, CertSN, …)."""
    root = _root(data, "Signature", "eb_bad_signature_doc", "eb_bad_signature_doc")
    out = {}
    for path in _SIGNATURE_FIELDS:
        required = path in ("RelatedEBD/EBDID", "SignatureValue")
        try:
            out[path.rpartition("/")[2]] = _text(root, path, required=required)
        except BadEbd:
            raise BadEbd("eb_bad_signature_doc", f"{path} is missing") from None
    return out
