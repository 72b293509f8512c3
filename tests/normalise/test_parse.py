"""Sniffing and dispatch in parse_feed: whatever arrives, only FeedError comes out."""

from __future__ import annotations

from pathlib import Path

import pytest

from warnengine.normalise import FeedError, parse_feed

A2 = (Path(__file__).parent / "samples" / "oasis_cap12_spec_appendix_A2.xml").read_bytes()


def reason(raw: bytes) -> str:
    with pytest.raises(FeedError) as caught:
        parse_feed(raw, source="test")
    return caught.value.reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", "not_xml_or_json"),
        (b" \r\n\t ", "not_xml_or_json"),
        (b"\xef\xbb\xbf", "not_xml_or_json"),
        (b"\x00\x01\x02garbage\xff\xfe", "not_xml_or_json"),
        (b"[1, 2, 3]", "not_xml_or_json"),
        (b"hello <alert/>", "not_xml_or_json"),
        (A2[: len(A2) // 2], "xml_malformed"),  # truncated
        (b"<alert><identifier>x</alert>", "xml_malformed"),
        (A2.replace(b"UTF-8", b"no-such-encoding"), "xml_malformed"),
        (b"<html><body>502 Bad Gateway</body></html>", "unknown_dialect"),
        (b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.0"/>', "unknown_dialect"),
        (b'<!DOCTYPE a [<!ENTITY b "c">]><alert>&b;</alert>', "xml_forbidden_construct"),
        (
            b'<?xml version="1.0"?><!DOCTYPE alert SYSTEM "file:///etc/passwd"><alert/>',
            "xml_forbidden_construct",
        ),
    ],
)
def test_bad_input(raw: bytes, expected: str) -> None:
    assert reason(raw) == expected


def test_bom_and_whitespace_are_stripped() -> None:
    w = parse_feed(b"\n \xef\xbb\xbf" + A2 + b"\n\n", source="feed:x")
    assert w.identifier == "KSTO1055887203" and w.source == "feed:x"


def test_str_is_reason_then_detail() -> None:
    with pytest.raises(FeedError) as caught:
        parse_feed(b"", source="test")
    assert str(caught.value) == "not_xml_or_json: empty message"
    assert caught.value.detail == "empty message"
