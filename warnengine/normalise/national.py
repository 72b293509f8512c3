"""The Chinese national early-warning dialect (国家突发事件预警信息发布系统, "国突") → Warning.

A CAP derivative without a namespace: `senderCode` (the stable sender id; `sender` is a display name),
`sendTime` "YYYY-MM-DD hh:mm:ss+08:00", the colour itself in <severity> (Blue/Yellow/Orange/Red),
an `eventType` code (GB/T 35561 "突发事件分类与编码", e.g. 11B06 大风), comma-separated 12-digit
administrative codes in <geocode>, often empty <polygon/> and <circle/>, and a bare identifier in
<references> that implicitly belongs to this message's sender.

Choices made here (no public spec at hand):
- Warning.sender is `senderCode` (falls back to `sender`), so chain ids survive a renamed bureau.
- references are stored CAP-style as "senderCode,identifier," (the dialect gives no sent time).
- a time without offset is Beijing time (+08:00), the only zone this dialect is used in.
- a non-empty polygon/circle is read in CAP order ("lat,lon ...").
"""

from __future__ import annotations

import re
from datetime import timedelta, timezone
from xml.etree.ElementTree import Element

from warnengine.model import Area, Circle, Hazard, HazardWarning, MsgType, Severity, Status
from warnengine.normalise.common import (
    chain_and_version,
    check_empty_geometry,
    clean_text,
    colour_exact,
    first_empty,
    hazard_from_text,
    parse_cap_circle,
    parse_cap_polygon,
    parse_time,
    shorten,
)
from warnengine.normalise.errors import FeedError

BEIJING = timezone(timedelta(hours=8), "CST")

# GB/T 35561-2017 natural-disaster classes (code prefix → hazard). Kept here as a table on purpose:
# a county will want to configure it later (e.g. 11E marine → flood for a coastal county).
EVENT_TYPE_HAZARDS: dict[str, Hazard] = {
    "11A": Hazard.FLOOD,  # 水旱灾害 flood and drought
    "11B": Hazard.METEO,  # 气象灾害 meteorological
    "11C": Hazard.EARTHQUAKE,  # 地震灾害
    "11D": Hazard.GEOHAZARD,  # 地质灾害 landslide, debris flow, collapse
    "11E": Hazard.OTHER,  # 海洋灾害 marine
    "11F": Hazard.OTHER,  # 生物灾害 biological
    "11G": Hazard.FOREST_FIRE,  # 森林草原火灾 forest and grassland fire
}
_CAP_WORDS = {
    "extreme": Severity.RED,
    "severe": Severity.ORANGE,
    "moderate": Severity.YELLOW,
    "minor": Severity.BLUE,
}
# "…发布大风蓝色预警…" → 大风: the dialect has no <event>, the headline names it.
_EVENT_IN_HEADLINE = re.compile(r"发布(.+?)[蓝黄橙红]色预警")
_CODE_SPLIT = re.compile(r"[\s,，;；]+")


def _text(parent: Element, name: str) -> str:
    child = parent.find(name)
    return (child.text or "").strip() if child is not None else ""


def _required(parent: Element, name: str) -> str:
    value = _text(parent, name)
    if not value:
        raise FeedError("missing_field", f"<{name}> is missing or empty")
    return value


def parse_national(root: Element) -> HazardWarning:
    """A namespace-less <alert> of the national dialect (already parsed safely) → Warning."""
    identifier = _required(root, "identifier")
    sender = _text(root, "senderCode") or _required(root, "sender")
    sent = parse_time(_required(root, "sendTime"), "sendTime", default_tz=BEIJING)
    status_text = _text(root, "status") or "Actual"
    if status_text not in {s.value for s in Status}:
        raise FeedError("invalid_field", f"<status> {status_text!r} is not a CAP status")
    msg_type_text = _required(root, "msgType")
    if msg_type_text not in {m.value for m in MsgType}:
        raise FeedError("unsupported_msg_type", f"<msgType> {msg_type_text!r} carries no warning")
    msg_type = MsgType(msg_type_text)
    ref_ids = [r for r in _CODE_SPLIT.split(_text(root, "references")) if r]
    warning_id, version = chain_and_version(msg_type, sender, identifier, [(sender, r) for r in ref_ids])
    references = [f"{sender},{r}," for r in ref_ids]

    infos = root.findall("info")
    if not infos:
        if msg_type is not MsgType.CANCEL:
            raise FeedError("no_info", f"{msg_type.value} {identifier!r} has no <info> (only a Cancel may)")
        return HazardWarning(
            warning_id=warning_id,
            version=version,
            sender=sender,
            identifier=identifier,
            sent=sent,
            msg_type=msg_type,
            status=Status(status_text),
            hazard=Hazard.OTHER,
            severity=Severity.BLUE,
            event="cancel",
            references=references,
        )

    info = next((i for i in infos if _text(i, "language").lower().startswith("zh")), infos[0])
    event_type = _text(info, "eventType")
    headline = clean_text(_text(info, "headline"))
    expires_text = _text(info, "expires")
    return HazardWarning(
        warning_id=warning_id,
        version=version,
        sender=sender,
        identifier=identifier,
        sent=sent,
        msg_type=msg_type,
        status=Status(status_text),
        hazard=_hazard(event_type, headline),
        severity=_severity(_required(info, "severity")),
        event=_event(info, headline, event_type),
        headline=headline,
        description=clean_text(_text(info, "description")),
        instruction=clean_text(_text(info, "instruction")),
        language=_text(info, "language") or "zh-CN",
        expires=parse_time(expires_text, "expires", default_tz=BEIJING) if expires_text else None,
        areas=[_area(el, i) for i, el in enumerate(info.findall("area"))],
        references=references,
    )


def _severity(text: str) -> Severity:
    severity = colour_exact(text) or _CAP_WORDS.get(text.lower())
    if severity is None:
        raise FeedError("unknown_severity", f"<severity> {text!r} is not Blue/Yellow/Orange/Red")
    return severity


def _hazard(event_type: str, headline: str) -> Hazard:
    hazard = EVENT_TYPE_HAZARDS.get(event_type[:3].upper())
    return hazard or hazard_from_text(headline) or Hazard.OTHER


def _event(info: Element, headline: str, event_type: str) -> str:
    explicit = clean_text(_text(info, "event"))
    if explicit:
        return explicit
    match = _EVENT_IN_HEADLINE.search(headline)
    return match.group(1) if match else event_type or "unknown"


def _area(el: Element, index: int) -> Area:
    description = clean_text(_text(el, "areaDesc"))
    label = f"area[{index}] ({shorten(description, 40)!r})"
    polygon_texts = [p.text or "" for p in el.findall("polygon")]
    circle_texts = [c.text or "" for c in el.findall("circle")]
    polygons = [parse_cap_polygon(t, f"{label} polygon") for t in polygon_texts if t.strip()]
    circles: list[Circle] = [parse_cap_circle(t, f"{label} circle") for t in circle_texts if t.strip()]
    # Plain "410000000000,410100000000" text, or CAP-style <value> children from stricter senders.
    texts = [v.text or "" for g in el.findall("geocode") for v in (g.findall("value") or [g])]
    codes = [code for text in texts for code in _CODE_SPLIT.split(text) if code]
    area = Area(description=description, polygons=polygons, circles=circles, codes=list(dict.fromkeys(codes)))
    # Empty <polygon/> <circle/> next to area codes are this dialect's norm; alone they target nobody.
    check_empty_geometry(first_empty(label, polygon_texts, circle_texts), area.empty, strict=False)
    return area
