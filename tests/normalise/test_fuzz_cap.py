"""Structured CAP 1.2 from a hypothesis strategy: random but valid-shaped alerts must be accepted with
their fields intact; the same alerts with random rule breaks must be a Warning or a FeedError."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape

from hypothesis import given
from hypothesis import strategies as st

from tests.normalise.fuzz_helpers import fuzz_settings, outcome
from warnengine.model import HazardWarning
from warnengine.normalise import FeedError

# XML 1.0 characters only (no controls, surrogates, U+FFFE/FFFF); text is escaped when written.
xml_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff"),
    max_size=40,
)
# CAP §3.2.1: no whitespace, commas, < or &.
cap_key = st.text(
    st.characters(
        codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), exclude_characters=",<&\x85"
    ),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip() == s and not any(c.isspace() for c in s))

# xs:dateTime (the XSD) allows offsets up to ±14:00; real zones run from -12:00 to +14:00.
offsets = st.tuples(st.sampled_from("+-"), st.integers(0, 13), st.sampled_from([0, 15, 30, 45])) | st.tuples(
    st.sampled_from("+-"), st.just(14), st.just(0)
)
lats = st.floats(-90, 90, allow_nan=False)
lons = st.floats(-180, 180, allow_nan=False)


def cap_time(moment: datetime, offset: tuple[str, int, int]) -> str:
    sign, hours, minutes = offset
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{hours:02d}:{minutes:02d}"


def as_datetime(text: str) -> datetime:
    local, sign, zone = text[:19], text[19], text[20:]
    delta = timedelta(hours=int(zone[:2]), minutes=int(zone[3:]))
    return datetime.fromisoformat(local).replace(tzinfo=timezone(delta if sign == "+" else -delta))


@dataclass(frozen=True)
class CapArea:
    description: str
    polygons: list[list[tuple[float, float]]]  # (lat, lon), closed
    circles: list[tuple[float, float, float]]
    codes: list[str]

    def xml(self) -> str:
        parts = [f"<areaDesc>{escape(self.description)}</areaDesc>"]
        parts += [
            "<polygon>" + " ".join(f"{lat!r},{lon!r}" for lat, lon in p) + "</polygon>" for p in self.polygons
        ]
        parts += [f"<circle>{lat!r},{lon!r} {r!r}</circle>" for lat, lon, r in self.circles]
        parts += [
            f"<geocode><valueName>FIPS6</valueName><value>{escape(c)}</value></geocode>" for c in self.codes
        ]
        return "<area>" + "".join(parts) + "</area>"


@dataclass(frozen=True)
class CapAlert:
    identifier: str
    sender: str
    sent: str
    msg_type: str
    event: str
    severity: str
    expires: str | None
    areas: list[CapArea]
    references: list[str] = field(default_factory=list)

    def xml(self) -> bytes:
        refs = f"<references>{escape(' '.join(self.references))}</references>" if self.references else ""
        expires = f"<expires>{self.expires}</expires>" if self.expires else ""
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
            f"<identifier>{escape(self.identifier)}</identifier><sender>{escape(self.sender)}</sender>"
            f"<sent>{self.sent}</sent><status>Actual</status><msgType>{self.msg_type}</msgType>"
            f"<scope>Public</scope>{refs}<info><language>zh-CN</language><category>Met</category>"
            f"<event>{escape(self.event)}</event><urgency>Immediate</urgency>"
            f"<severity>{self.severity}</severity><certainty>Likely</certainty>{expires}"
            + "".join(a.xml() for a in self.areas)
            + "</info></alert>"
        ).encode()


@st.composite
def rings(draw: st.DrawFn) -> list[tuple[float, float]]:
    points = draw(st.lists(st.tuples(lats, lons), min_size=3, max_size=12))
    return [*points, points[0]]


areas = st.builds(
    CapArea,
    description=xml_text,
    polygons=st.lists(rings(), max_size=2),
    circles=st.lists(st.tuples(lats, lons, st.floats(0, 500, allow_nan=False)), max_size=2),
    codes=st.lists(st.text("0123456789", min_size=6, max_size=12), max_size=3),
)
times = st.builds(cap_time, st.datetimes(datetime(1990, 1, 1), datetime(2099, 12, 31)), offsets)


@st.composite
def alerts(draw: st.DrawFn) -> CapAlert:
    sender = draw(cap_key)
    msg_type = draw(st.sampled_from(["Alert", "Update", "Cancel"]))
    references = []
    if msg_type != "Alert":
        references = [f"{sender},{draw(cap_key)},{draw(times)}" for _ in range(draw(st.integers(1, 3)))]
    return CapAlert(
        identifier=draw(cap_key),
        sender=sender,
        sent=draw(times),
        msg_type=msg_type,
        event=draw(xml_text.filter(lambda s: s.strip() != "")),
        severity=draw(st.sampled_from(["Extreme", "Severe", "Moderate", "Minor", "Unknown"])),
        expires=draw(st.none() | times),
        areas=draw(st.lists(areas, max_size=3)),
        references=references,
    )


@fuzz_settings(80)
@given(alert=alerts())
def test_valid_shaped_cap_is_accepted_intact(alert: CapAlert) -> None:
    got = outcome(alert.xml())
    assert isinstance(got, HazardWarning), got
    assert (got.identifier, got.sender, got.msg_type.value) == (
        alert.identifier,
        alert.sender,
        alert.msg_type,
    )
    assert got.sent == as_datetime(alert.sent) and got.sent.utcoffset() == as_datetime(alert.sent).utcoffset()
    assert got.expires == (as_datetime(alert.expires) if alert.expires else None)
    assert got.references == alert.references and got.version == 1 + len(alert.references)
    assert len(got.areas) == len(alert.areas)
    for mine, theirs in zip(got.areas, alert.areas, strict=True):
        assert mine.polygons == [[(lon, lat) for lat, lon in ring] for ring in theirs.polygons]
        assert [(c.lat, c.lon, c.radius_km) for c in mine.circles] == theirs.circles
        assert mine.codes == list(dict.fromkeys(theirs.codes))


# Rule breaks applied to a valid alert: each is a spec violation or a value at the edge of one.
BREAKS: dict[str, Callable[[CapAlert], CapAlert]] = {
    "open ring": lambda a: _first_area(a, lambda ar: replace(ar, polygons=[p[:-1] for p in ar.polygons])),
    "short ring": lambda a: _first_area(a, lambda ar: replace(ar, polygons=[p[:3] for p in ar.polygons])),
    "lon,lat": lambda a: _first_area(
        a, lambda ar: replace(ar, polygons=[[(y * 2, x * 2) for x, y in p] for p in ar.polygons])
    ),
    "negative radius": lambda a: _first_area(
        a, lambda ar: replace(ar, circles=[(x, y, -r - 1) for x, y, r in ar.circles])
    ),
    "Z time": lambda a: replace(a, sent=a.sent[:19] + "Z"),
    "no offset": lambda a: replace(a, sent=a.sent[:19]),
    "bad month": lambda a: replace(a, sent=a.sent[:5] + "13" + a.sent[7:]),
    "short reference": lambda a: replace(a, references=[r.rsplit(",", 1)[0] for r in a.references]),
    "comma in identifier": lambda a: replace(a, identifier=a.identifier + ",x"),
    "space in sender": lambda a: replace(a, sender="a " + a.sender),
    "Ack": lambda a: replace(a, msg_type="Ack"),
    "severity colour": lambda a: replace(a, severity="Red"),
    "empty event": lambda a: replace(a, event=" "),
}


def _first_area(alert: CapAlert, change: Callable[[CapArea], CapArea]) -> CapAlert:
    if not alert.areas:
        return alert
    return replace(alert, areas=[change(alert.areas[0]), *alert.areas[1:]])


@fuzz_settings(80)
@given(alert=alerts(), breaks=st.lists(st.sampled_from(sorted(BREAKS)), min_size=1, max_size=3, unique=True))
def test_broken_cap_is_a_warning_or_a_feed_error(alert: CapAlert, breaks: list[str]) -> None:
    for name in breaks:
        alert = BREAKS[name](alert)
    got = outcome(alert.xml())
    # Breaks that always apply (not conditional on areas/references) must be rejected.
    always = {
        "Z time",
        "no offset",
        "bad month",
        "comma in identifier",
        "space in sender",
        "Ack",
        "empty event",
    }
    if always & set(breaks):
        assert isinstance(got, FeedError), breaks
