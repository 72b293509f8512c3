"""Fuzzing parse_feed with hypothesis: arbitrary bytes, mutated real samples, arbitrary JSON.

Property everywhere: a Warning or a FeedError with a known reason, nothing else (fuzz_helpers.outcome).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.normalise.fuzz_helpers import fuzz_settings, outcome
from tests.normalise.test_feed_eew import EEW
from tests.normalise.test_feed_levels import FIRE, HYDRO, POINT, RISK
from tests.normalise.test_feed_meteo import SIGNAL
from tests.normalise.test_json_feed import BASE
from tests.normalise.test_signature import embedded_pems
from warnengine.normalise import TrustStore
from warnengine.normalise.feeds import KINDS

SAMPLES = sorted((Path(__file__).parent / "samples").glob("*.xml"))
BIG = 100_000  # bytes: larger samples (the 880 KB signed polygon) get fewer examples, to stay fast

# Senders of the signed samples, pinned to their own certificates: mutations also reach the verifier.
TRUST = TrustStore.from_dict(
    {
        "senders": {
            "https://www.meteoburkina.bf/": {
                "certificates": embedded_pems((SAMPLES[1]).read_bytes())[:1],
            },
            "bbrundage@dps.state.nv.us": {
                "certificates": embedded_pems(
                    (SAMPLES[0].parent / "us_ipaws-5e6dd9de023f1930ef6548d9_cancel_signed.xml").read_bytes()
                )[:1]
            },
        }
    }
)

PREFIXES = [
    b"",
    b"<",
    b"{",
    b'<?xml version="1.0" encoding="UTF-8"?>',
    b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">',
    b"<alert><identifier>x</identifier>",
    b'<EDXLDistribution xmlns="urn:oasis:names:tc:emergency:EDXL:DE:1.0"><contentObject>',
]


@fuzz_settings(300)
@given(prefix=st.sampled_from(PREFIXES), rest=st.binary(max_size=300))
def test_arbitrary_bytes(prefix: bytes, rest: bytes) -> None:
    outcome(prefix + rest)


# --- mutated samples -------------------------------------------------------------------------------

# Inserted at random positions: structure-breaking tokens and encodings that parsers trip over.
TOKENS = [
    b"<",
    b">",
    b"&",
    b"&amp;",
    b"&#0;",
    b"&#x110000;",
    b"]]>",
    b"<![CDATA[",
    b"<!--",
    b"<!DOCTYPE a>",
    b'<!ENTITY e "x">',
    b"<?pi?>",
    b'"',
    b"\x00",
    b"\xff",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b",",
    b" ",
    b"Z",
    b"-",
    b"nan",
    b"1e999",
    b"</alert>",
    b"<polygon/>",
    b"<circle>0,0 -1</circle>",
    b"<info>",
]

mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True), st.just(0)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.integers(0, len(TOKENS) - 1)),
    st.tuples(st.just("delete"), st.floats(0, 1, exclude_max=True), st.integers(1, 64)),
)


def mutate(raw: bytes, mutations: list[tuple[str, float, int]], extra: bytes) -> bytes:
    """Positions are fractions of the current length, so one strategy fits every file size."""
    data = bytearray(raw)
    for kind, where, arg in mutations:
        at = int(where * len(data))
        if kind == "flip" and data:
            data[min(at, len(data) - 1)] ^= arg
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = TOKENS[arg] + extra
        elif kind == "delete":
            del data[at : at + arg]
    return bytes(data)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_mutated_samples(path: Path) -> None:
    raw = path.read_bytes()

    @fuzz_settings(4 if len(raw) > BIG else 25)
    @given(mutations=st.lists(mutation, min_size=1, max_size=3), extra=st.binary(max_size=8))
    def check(mutations: list[tuple[str, float, int]], extra: bytes) -> None:
        changed = mutate(raw, mutations, extra)
        outcome(changed)
        outcome(changed, trust=TRUST)

    check()


# --- JSON ------------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and ±Infinity too: json.dumps writes them, and some producers do
    st.text(max_size=30),
    st.sampled_from(
        ["", "红", "蓝色", "2024-07-01 08:00:00", "2024-07-01T08:00:00Z", "lifted", "VI", "1e400"]
    ),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
SOURCES = [*KINDS, "manual"]


@fuzz_settings(100)
@given(value=json_values, source=st.sampled_from(SOURCES))
def test_arbitrary_json(value: Any, source: str) -> None:
    outcome(json.dumps(value).encode(), source)


BASES: list[tuple[str, dict[str, Any]]] = [
    ("earthquake", EEW),
    ("flood", HYDRO),
    ("forest_fire", FIRE),
    ("geohazard", RISK),
    ("geohazard", POINT),
    ("meteo", SIGNAL),
    ("manual", BASE),
]


@fuzz_settings(200)
@given(
    base=st.sampled_from(BASES),
    changes=st.lists(st.tuples(st.integers(0, 30), json_values | st.just(None)), min_size=1, max_size=3),
)
def test_valid_json_with_fields_replaced(base: tuple[str, dict[str, Any]], changes: list[Any]) -> None:
    """Each adapter's valid example with one to three fields set to arbitrary JSON (None: removed)."""
    source, doc = base
    keys = sorted(doc)
    changed = dict(doc)
    for index, value in changes:
        key = keys[index % len(keys)]
        if value is None:
            changed.pop(key, None)
        else:
            changed[key] = value
    outcome(json.dumps(changed, ensure_ascii=False).encode(), source)
