"""Entry point: sniff raw feed bytes (JSON or XML), dispatch to the dialect, stamp the source."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from pydantic import ValidationError

from warnengine.model import Warning
from warnengine.normalise.cap import CAP11_NS, CAP12_NS, parse_cap
from warnengine.normalise.common import parse_xml, shorten
from warnengine.normalise.errors import FeedError
from warnengine.normalise.json_feed import parse_json
from warnengine.normalise.national import parse_national

_BOM = b"\xef\xbb\xbf"


def parse_feed(raw: bytes, source: str) -> Warning:
    """Raw bytes of one feed message → Warning with `source` set. Any bad input raises FeedError only."""
    body = raw.strip().removeprefix(_BOM).lstrip()
    try:
        if body.startswith(b"{"):
            warning = parse_json(body)
        elif body.startswith(b"<"):
            warning = _parse_xml_dialect(parse_xml(body))
        elif not body:
            raise FeedError("not_xml_or_json", "empty message")
        else:
            raise FeedError("not_xml_or_json", f"{len(raw)} bytes starting {shorten(repr(body[:24]), 40)}")
    except ValidationError as exc:  # a Warning/Area invariant the dialect checks did not foresee
        raise FeedError("model_invalid", shorten(str(exc), 240)) from exc
    return warning.model_copy(update={"source": source})


def _parse_xml_dialect(root: Element) -> Warning:
    namespace, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if local == "alert" and namespace in (CAP12_NS, CAP11_NS):
        return parse_cap(root)
    if local == "alert" and not namespace:
        return parse_national(root)
    raise FeedError(
        "unknown_dialect", f"root element {shorten(root.tag)!r} is not a CAP 1.1/1.2 or national alert"
    )
