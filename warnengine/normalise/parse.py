"""Entry point: sniff raw feed bytes (JSON or XML), dispatch to the dialect, check the signature,
stamp the source."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from pydantic import ValidationError

from warnengine.model import HazardWarning
from warnengine.normalise.cap import CAP11_NS, CAP12_NS, parse_cap
from warnengine.normalise.common import parse_xml, shorten
from warnengine.normalise.edxl import embedded_alert_bytes, is_edxl, unwrap
from warnengine.normalise.errors import FeedError
from warnengine.normalise.feeds import KINDS, adapter_for, sniff_kind
from warnengine.normalise.feeds.signal_table import SignalTable
from warnengine.normalise.json_feed import parse_json
from warnengine.normalise.national import parse_national
from warnengine.normalise.signature import SignatureVerdict, check_signature, is_signed
from warnengine.normalise.trust import TrustStore

_BOM = b"\xef\xbb\xbf"
# The same default as Settings.max_feed_bytes and FeedPolicy.max_bytes: the stage refuses larger messages
# first; this guard protects every other caller (cap check, tools) from parsing unbounded input.
MAX_FEED_BYTES = 4 * 1024 * 1024


def parse_feed(
    raw: bytes,
    source: str,
    trust: TrustStore | None = None,
    *,
    signals: SignalTable | None = None,
    max_bytes: int = MAX_FEED_BYTES,
) -> HazardWarning:
    """Raw bytes of one feed message → Warning with `source` set. Any bad input raises FeedError only.

    `trust`: verify XML signatures by sender (see signature.py); None checks nothing.
    `signals`: the meteo signal table; None loads config/feeds/meteo_signals.yaml once.
    `max_bytes`: larger messages are refused unread (`too_large`).
    """
    return parse_feed_checked(raw, source, trust, signals=signals, max_bytes=max_bytes)[0]


def parse_feed_checked(
    raw: bytes,
    source: str,
    trust: TrustStore | None = None,
    *,
    signals: SignalTable | None = None,
    max_bytes: int = MAX_FEED_BYTES,
) -> tuple[HazardWarning, SignatureVerdict]:
    """parse_feed, also returning the signature verdict (e.g. UNVERIFIED: signed, sender not configured)
    so that the caller can log it. Rejected signatures raise FeedError like any other bad input."""
    if len(raw) > max_bytes:
        raise FeedError("too_large", f"{len(raw)} bytes; the limit is {max_bytes}")
    body = raw.strip().removeprefix(_BOM).lstrip()
    try:
        if body.startswith(b"{"):
            warning = _parse_json(body, source, signals)
            signed = False  # JSON carries no XML-DSig: unsigned, whatever the sender's policy says
        elif body.startswith(b"<"):
            root = parse_xml(body)
            if is_edxl(root):
                root = unwrap(root)
                body = embedded_alert_bytes(body)  # what the alert's own signature covers
            warning = _parse_xml_dialect(root)
            signed = is_signed(root)
        elif not body:
            raise FeedError("not_xml_or_json", "empty message")
        else:
            raise FeedError("not_xml_or_json", f"{len(raw)} bytes starting {shorten(repr(body[:24]), 40)}")
    except ValidationError as exc:  # a Warning/Area invariant the dialect checks did not foresee
        raise FeedError("model_invalid", shorten(str(exc), 240)) from exc
    verdict = check_signature(body, signed=signed, sender=warning.sender, sent=warning.sent, trust=trust)
    verdict.raise_if_rejected()
    return warning.model_copy(update={"source": source}), verdict


def _parse_json(body: bytes, source: str, signals: SignalTable | None) -> HazardWarning:
    kind = sniff_kind(body)
    adapter = adapter_for(source, kind, signals)
    if adapter is not None:
        return adapter(body)
    try:
        return parse_json(body)
    except FeedError as exc:
        if kind is None:
            raise
        # A "kind" nobody handles is almost always a feed sent to the wrong topic: say so.
        known = ", ".join(KINDS.get(source, ())) or "none"
        hint = f' ("kind" {shorten(kind, 40)!r} has no adapter on source {source!r}; it has: {known})'
        raise FeedError(exc.reason, exc.detail + hint) from exc


def _parse_xml_dialect(root: Element) -> HazardWarning:
    namespace, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if local == "alert" and namespace in (CAP12_NS, CAP11_NS):
        return parse_cap(root)
    if local == "alert" and not namespace:
        return parse_national(root)
    raise FeedError(
        "unknown_dialect",
        f"root element {shorten(root.tag)!r} is not a CAP 1.1/1.2 or national alert (nor EDXL-DE)",
    )
