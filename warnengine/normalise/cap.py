"""CAP 1.2 and CAP 1.1 (OASIS Common Alerting Protocol) → Warning.

CAP 1.2 is validated against the official XSD, then against the §3 rules the XSD cannot express
(polygon/circle syntax, no empty polygon/circle, ±hh:mm offsets, `references` triples, no whitespace,
commas, < or & in identifier and sender). CAP 1.1 has no schema here and is read
more leniently (a 'Z' time is accepted), but still gets the geometry and references checks.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from xml.etree.ElementTree import Element

import xmlschema

from warnengine.model import Area, Circle, Hazard, HazardWarning, MsgType, Severity, Status
from warnengine.normalise.common import (
    chain_and_version,
    check_empty_geometry,
    clean_text,
    colour_in,
    first_empty,
    hazard_from_text,
    parse_cap_circle,
    parse_cap_polygon,
    parse_time,
    shorten,
)
from warnengine.normalise.errors import FeedError

CAP12_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP11_NS = "urn:oasis:names:tc:emergency:cap:1.1"

_SCHEMA_PATH = Path(__file__).resolve().parent / "schema" / "CAP-v1.2.xsd"

# Parameters through which senders state a warning colour (MeteoAlarm: "2; yellow; Moderate").
_COLOUR_PARAMS = frozenset({"color", "colour", "severity_color", "awareness_level"})
_CAP_SEVERITY = {
    "extreme": Severity.RED,
    "severe": Severity.ORANGE,
    "moderate": Severity.YELLOW,
    "minor": Severity.BLUE,
    "unknown": Severity.BLUE,
}
# First match wins: a fire or geo event tagged also "Met" (CAP-AU does this) is not a weather warning.
_CATEGORY_HAZARDS = (("Fire", Hazard.FOREST_FIRE), ("Geo", Hazard.GEOHAZARD), ("Met", Hazard.METEO))

_E = TypeVar("_E", bound=StrEnum)


@functools.cache
def _cap12_schema() -> xmlschema.XMLSchema:
    # use_fallback=False: xmlschema would otherwise bring its bundled XML-DSig schema and validate
    # <Signature> contents, which the CAP schema leaves to processContents="lax" (and lxml skips).
    return xmlschema.XMLSchema(str(_SCHEMA_PATH), allow="sandbox", use_fallback=False)


def validate_cap12(root: Element) -> None:
    """Raise schema_invalid with the first XSD error, on one line."""
    # allow="none": the instance may never make the validator open a file or URL (e.g. schemaLocation).
    resource = xmlschema.XMLResource(root, allow="none")
    error = next(iter(_cap12_schema().iter_errors(resource)), None)
    if error is not None:
        message = f"{error.path or '/'}: {error.reason or error.message}"
        raise FeedError("schema_invalid", shorten(message.replace("{" + CAP12_NS + "}", ""), 240))


@dataclass(frozen=True)
class _Cap:
    """Namespaced child access for one CAP version."""

    ns: str

    @property
    def strict(self) -> bool:
        return self.ns == CAP12_NS

    def q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def text(self, parent: Element, name: str) -> str:
        child = parent.find(self.q(name))
        return (child.text or "").strip() if child is not None else ""

    def required(self, parent: Element, name: str) -> str:
        value = self.text(parent, name)
        if not value:
            raise FeedError("missing_field", f"<{name}> is missing or empty")
        return value

    def enum(self, parent: Element, name: str, kind: type[_E]) -> _E:
        value = self.required(parent, name)
        try:
            return kind(value)
        except ValueError as exc:
            raise FeedError(
                "invalid_field", f"<{name}> {value!r} is not one of {[k.value for k in kind]}"
            ) from exc


def parse_cap(root: Element) -> HazardWarning:
    """A CAP 1.1 or 1.2 <alert> element (already parsed safely) → Warning."""
    cap = _Cap(root.tag[1:].partition("}")[0])
    if cap.strict:
        validate_cap12(root)
    sender = _key(cap.required(root, "sender"), "sender")
    identifier = _key(cap.required(root, "identifier"), "identifier")
    sent = parse_time(cap.required(root, "sent"), "sent", cap_strict=cap.strict)
    status = cap.enum(root, "status", Status)
    msg_type_text = cap.required(root, "msgType")
    if msg_type_text not in {m.value for m in MsgType}:
        raise FeedError("unsupported_msg_type", f"<msgType> {msg_type_text!r} carries no warning")
    msg_type = MsgType(msg_type_text)
    refs, ref_triples = _references(cap.text(root, "references"), cap.strict)
    warning_id, version = chain_and_version(msg_type, sender, identifier, refs)

    infos = root.findall(cap.q("info"))
    if not infos:
        if msg_type is not MsgType.CANCEL:
            raise FeedError("no_info", f"{msg_type.value} {identifier!r} has no <info> (only a Cancel may)")
        # A bare Cancel names no hazard: OTHER/BLUE are placeholders, not the cancelled warning's values.
        return HazardWarning(
            warning_id=warning_id,
            version=version,
            sender=sender,
            identifier=identifier,
            sent=sent,
            msg_type=msg_type,
            status=status,
            hazard=Hazard.OTHER,
            severity=Severity.BLUE,
            event="cancel",
            references=ref_triples,
        )

    info = _pick_info(infos, cap)
    event = clean_text(cap.required(info, "event"))
    categories = [(c.text or "").strip() for c in info.findall(cap.q("category"))]
    expires_text = cap.text(info, "expires")
    return HazardWarning(
        warning_id=warning_id,
        version=version,
        sender=sender,
        identifier=identifier,
        sent=sent,
        msg_type=msg_type,
        status=status,
        hazard=_hazard(categories, event),
        severity=_severity(info, cap),
        event=event,
        headline=clean_text(cap.text(info, "headline")),
        description=clean_text(cap.text(info, "description")),
        instruction=clean_text(cap.text(info, "instruction")),
        language=cap.text(info, "language") or "en-US",  # CAP's documented default
        expires=parse_time(expires_text, "expires", cap_strict=cap.strict) if expires_text else None,
        areas=[_area(el, i, cap) for i, el in enumerate(info.findall(cap.q("area")))],
        references=ref_triples,
    )


_FORBIDDEN_IN_KEYS = re.compile(r"[\s,<&]")


def _key(value: str, field: str) -> str:
    """CAP §3.2.1: identifier and sender MUST NOT include spaces, commas or restricted characters (< and
    &); they are the parts of a `references` triple, so a comma would make every later reference wrong."""
    bad = _FORBIDDEN_IN_KEYS.search(value)
    if bad:
        raise FeedError(
            "cap_rule_violation", f"<{field}> {shorten(value)!r} contains {bad.group(0)!r} (CAP forbids it)"
        )
    return value


def _references(text: str, strict: bool) -> tuple[list[tuple[str, str]], list[str]]:
    """Whitespace-separated "sender,identifier,sent" triples → ([(sender, identifier)], [triple])."""
    keys: list[tuple[str, str]] = []
    triples = text.split()
    for triple in triples:
        parts = triple.split(",")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise FeedError(
                "cap_rule_violation", f"references: {shorten(triple)!r} is not sender,identifier,sent"
            )
        parse_time(parts[2], "references sent", cap_strict=strict)
        keys.append((parts[0], parts[1]))
    return keys, triples


def _pick_info(infos: list[Element], cap: _Cap) -> Element:
    """Chinese first (zh-CN, then any zh*), else the first block."""
    languages = [cap.text(i, "language").lower() for i in infos]
    for prefix in ("zh-cn", "zh"):
        for info, language in zip(infos, languages, strict=True):
            if language.startswith(prefix):
                return info
    return infos[0]


def _hazard(categories: list[str], event: str) -> Hazard:
    by_text = hazard_from_text(event)
    if by_text is not None:
        return by_text
    for category, hazard in _CATEGORY_HAZARDS:
        if category in categories:
            return hazard
    return Hazard.OTHER


def _severity(info: Element, cap: _Cap) -> Severity:
    """An explicit colour parameter wins; else CAP <severity> (a colour there too, for non-standard feeds)."""
    for param in info.findall(cap.q("parameter")):
        name = cap.text(param, "valueName").lower().rsplit(":", 1)[-1]
        if name in _COLOUR_PARAMS and (colour := colour_in(cap.text(param, "value"))) is not None:
            return colour
    text = cap.required(info, "severity")
    mapped = _CAP_SEVERITY.get(text.lower()) or colour_in(text)
    if mapped is None:
        raise FeedError("unknown_severity", f"<severity> {text!r} is neither a CAP severity nor a colour")
    return mapped


def _area(el: Element, index: int, cap: _Cap) -> Area:
    description = clean_text(cap.text(el, "areaDesc"))
    label = f"area[{index}] ({shorten(description, 40)!r})"
    polygon_texts = [p.text or "" for p in el.findall(cap.q("polygon"))]
    circle_texts = [c.text or "" for c in el.findall(cap.q("circle"))]
    empty = first_empty(label, polygon_texts, circle_texts)
    if cap.strict:  # before the other checks, so that the reason names the empty element
        check_empty_geometry(empty, area_empty=True, strict=True)
    polygons = [
        parse_cap_polygon(text, f"{label} polygon[{j}]")
        for j, text in enumerate(polygon_texts)
        if text.strip()
    ]
    circles: list[Circle] = [
        parse_cap_circle(text, f"{label} circle[{j}]") for j, text in enumerate(circle_texts) if text.strip()
    ]
    codes = [cap.text(g, "value") for g in el.findall(cap.q("geocode"))]
    area = Area(
        description=description,
        polygons=polygons,
        circles=circles,
        codes=list(dict.fromkeys(c for c in codes if c)),  # deduplicated, order kept
    )
    check_empty_geometry(empty, area.empty, strict=False)
    return area
