"""Which parser a JSON message gets: the source's adapter for its "kind", else the generic format."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from tests.normalise.feed_helpers import encode, parse, reject
from tests.normalise.test_feed_eew import EEW
from tests.normalise.test_feed_levels import FIRE, HYDRO, POINT, RISK
from tests.normalise.test_feed_meteo import SIGNAL, TABLE
from tests.normalise.test_json_feed import BASE
from warnengine.model import Hazard
from warnengine.normalise import FeedError
from warnengine.normalise.feeds import KINDS


@pytest.mark.parametrize(
    ("source", "doc", "hazard"),
    [
        ("flood", HYDRO, Hazard.FLOOD),
        ("forest_fire", FIRE, Hazard.FOREST_FIRE),
        ("geohazard", RISK, Hazard.GEOHAZARD),
        ("geohazard", POINT, Hazard.GEOHAZARD),
        ("earthquake", EEW, Hazard.EARTHQUAKE),
    ],
)
def test_adapter_by_source_and_kind(source: str, doc: dict[str, object], hazard: Hazard) -> None:
    assert parse(encode(doc), source).hazard is hazard


@pytest.mark.parametrize("source", [*KINDS, "manual", "unknown"])
def test_generic_json_still_works_on_every_source(source: str) -> None:
    assert parse(encode(BASE), source).identifier == "ZZ-2024-0701-01"


def test_kind_on_the_wrong_topic_gets_a_hint() -> None:
    err = reject(encode(HYDRO), "earthquake")
    assert err.reason == "missing_field"  # the generic format's first complaint …
    assert "'hydro_exceedance' has no adapter on source 'earthquake'; it has: eew" in err.detail  # … and why


def test_kind_that_is_not_a_string_falls_back() -> None:
    assert reject(encode(HYDRO, kind=7), "flood").reason == "missing_field"


def test_bad_json_on_an_adapter_topic() -> None:
    assert reject(b'{"kind": "eew", ', "earthquake").reason == "bad_json"


# Fuzz: valid messages of every kind with 1-3 fields deleted or replaced by odd values; only FeedError
# may come out. A seeded generator rather than hypothesis, which is not a project dependency (yet).
_BASES: list[tuple[str, dict[str, Any]]] = [
    ("meteo", SIGNAL),
    ("flood", HYDRO),
    ("forest_fire", FIRE),
    ("geohazard", RISK),
    ("geohazard", POINT),
    ("earthquake", EEW),
]
_ODD: list[object] = [
    None,
    True,
    0,
    -1,
    3,
    5,
    12,
    1e308,
    -1e308,
    "",
    " ",
    "红",
    "lifted",
    "解除",
    "VI",
    "XIII",
    "2024-07-01",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "2024-07-01T08:00:00+08:00",
    "2024-13-40T99:00:00",
    "x" * 300,
    "\u0000",
    [],
    {},
    [None],
    ["410122100201"],
    [{"codes": ["1"]}],
    [{"polygon": [[1, 2], [3, 4]]}],
    {"VI": -1},
    {"²": 5},
    {"9" * 5000: 5},
    {"": 1},
]


def _mutate(rng: random.Random, doc: dict[str, Any]) -> dict[str, Any]:
    doc = dict(doc)
    for _ in range(rng.randint(1, 3)):
        key = rng.choice([*doc, "status", "id", "drill", "province", "radius_km", "report"])
        if key != "kind" and rng.random() < 0.3:
            doc.pop(key, None)
        elif key != "kind":
            doc[key] = rng.choice(_ODD)
    return doc


@pytest.mark.parametrize("seed", range(4))
def test_mutated_messages_raise_only_feed_error(seed: int) -> None:
    rng = random.Random(seed)
    outcomes: set[str] = set()
    for _ in range(200):
        source, base = rng.choice(_BASES)
        raw = json.dumps(_mutate(rng, base), ensure_ascii=rng.random() < 0.5).encode()
        try:
            parse(raw, source, TABLE)
            outcomes.add("accepted")
        except FeedError as exc:
            outcomes.add(exc.reason)
    assert "accepted" in outcomes and len(outcomes) > 3  # the mutations reach past the first check
