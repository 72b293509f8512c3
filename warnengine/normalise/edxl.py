"""EDXL-DE (OASIS Emergency Data Exchange Language, Distribution Element) wrappers around one alert.

Some senders (IPAWS among them) deliver CAP inside an `<EDXLDistribution>`:

    DE 1.0: EDXLDistribution/contentObject/xmlContent/embeddedXMLContent/alert
    DE 2.0: EDXLDistribution/content/contentObject/xmlContent/embeddedXMLContent/alert

The alert is unwrapped and parsed as if it had arrived alone. A wrapper with several alerts is rejected
(`edxl_multiple_alerts`) rather than reduced to its first one: one feed message yields one warning, and
silently dropping the others could lose a warning; a rejection is dead-lettered and seen. Content that
is not an embedded XML alert (nonXMLContent, e.g. base64 CAP) is not unwrapped: `unknown_dialect`.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element
from xml.parsers import expat

from warnengine.normalise.errors import FeedError

_PATHS = (
    ("contentObject", "xmlContent", "embeddedXMLContent", "alert"),  # DE 1.0
    ("content", "contentObject", "xmlContent", "embeddedXMLContent", "alert"),  # DE 2.0
)


def local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def is_edxl(root: Element) -> bool:
    """Matched by local name: DE 1.0 and 2.0 differ in namespace (and its case)."""
    return local_name(root.tag) == "EDXLDistribution"


def unwrap(root: Element) -> Element:
    """The one alert inside an EDXL-DE distribution."""
    alerts: list[Element] = []
    for path in _PATHS:
        level = [root]
        for name in path:
            level = [child for parent in level for child in parent if local_name(child.tag) == name]
        alerts += level
    if not alerts:
        raise FeedError(
            "unknown_dialect",
            "EDXL-DE distribution without an <alert> in contentObject/xmlContent/embeddedXMLContent",
        )
    if len(alerts) > 1:
        raise FeedError(
            "edxl_multiple_alerts", f"EDXL-DE distribution carries {len(alerts)} alerts; send one per message"
        )
    return alerts[0]


def embedded_alert_bytes(body: bytes) -> bytes:
    """The embedded alert's own bytes, exactly as the sender wrote them, for the signature check: its
    enveloped signature (URI="") covers the alert the sender signed, not the wrapper added later, and
    re-serialising would change the prefixes and inherited namespace declarations canonicalisation sees.

    Called only after defusedxml accepted `body` (no DTD, no entities) and `unwrap` found one alert."""
    starts: list[int] = []
    names: list[str] = []
    span: list[int] = []
    parser = expat.ParserCreate(namespace_separator="}")

    def start(name: str, _attrs: object) -> None:
        names.append(local_name(name))
        starts.append(parser.CurrentByteIndex)

    def end(_name: str) -> None:
        if not span and tuple(names[1:]) in _PATHS:
            span.extend((starts[-1], body.index(b">", parser.CurrentByteIndex) + 1))
        names.pop()
        starts.pop()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(body, True)
    except (expat.ExpatError, ValueError) as exc:  # unreachable after defusedxml; never a crash
        raise FeedError("xml_malformed", f"EDXL-DE: {exc}") from exc
    if not span:
        raise FeedError("xml_malformed", "EDXL-DE: the embedded alert was not found on the second parse")
    return body[span[0] : span[1]]
