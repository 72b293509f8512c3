"""CAP 1.2 messages parsed and normalised per second on one core, against lxml's bare XSD validation.

Corpus: every sample in tests/normalise/samples that is CAP 1.2, valid against the OASIS XSD and
accepted by parse_feed (the same files for both sides), plus a county-typical message: the demo's red
rainstorm warning (warnengine.embedded.demo.rainstorm_cap) over a 40-vertex polygon.

Per run, both sides process the corpus `--loops` times, interleaved so that they share the machine's
noise: ours is `parse_feed` (defusedxml parse, xmlschema XSD validation, CAP §3 rules, normalisation to
a Warning; no trust store), the limit is `lxml.etree.XMLSchema(...).validate(etree.fromstring(raw))`.
Rates use the process's CPU time (single-threaded, pinned to one core where the OS allows it), so a
busy machine slows the wall clock but not the result. Prints medians over `--runs`, one JSON line.

    .venv/bin/python benchmarks/cap_parse.py --runs 7
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from warnengine.embedded.demo import rainstorm_cap
from warnengine.normalise import FeedError, parse_feed
from warnengine.normalise.cap import CAP12_NS

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "tests" / "normalise" / "samples"
XSD = REPO / "warnengine" / "normalise" / "schema" / "CAP-v1.2.xsd"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


def county_cap() -> bytes:
    """A county-sized ring (about 30 km across) with 40 vertices, as a county's warnings draw them."""
    ring = [
        (113.5 + 0.15 * math.cos(2 * math.pi * i / 40), 34.6 + 0.12 * math.sin(2 * math.pi * i / 40))
        for i in range(40)
    ]
    ring.append(ring[0])
    return rainstorm_cap(ring, "bench-county-0001", datetime(2024, 7, 20, 8, 0, tzinfo=UTC))


def corpus(schema: etree.XMLSchema) -> dict[str, bytes]:
    chosen: dict[str, bytes] = {}
    for path in sorted(SAMPLES.glob("*.xml")):
        raw = path.read_bytes()
        try:
            root = etree.fromstring(raw, PARSER)
            parse_feed(raw, "bench")
        except (etree.XMLSyntaxError, FeedError):
            continue
        if root.tag == f"{{{CAP12_NS}}}alert" and schema.validate(root):
            chosen[path.name] = raw
    chosen["county_rainstorm (generated)"] = county_cap()
    return chosen


def rate(messages: list[bytes], loops: int, handle: Callable[[bytes], object]) -> float:
    """Messages per CPU second."""
    start = time.process_time()
    for _ in range(loops):
        for raw in messages:
            handle(raw)
    return loops * len(messages) / (time.process_time() - start)


def measure(messages: list[bytes], schema: etree.XMLSchema, runs: int, loops: int) -> dict[str, float]:
    def ours(raw: bytes) -> object:
        return parse_feed(raw, "bench")

    def limit(raw: bytes) -> object:
        if not schema.validate(etree.fromstring(raw, PARSER)):
            raise AssertionError("the corpus holds only XSD-valid files")
        return None

    ours(messages[0]), limit(messages[0])  # warm-up: schemas are loaded once, lazily
    mine, theirs = [], []
    for _ in range(runs):
        mine.append(rate(messages, loops, ours))
        theirs.append(rate(messages, loops, limit))
    m, t = statistics.median(mine), statistics.median(theirs)
    return {
        "parse_feed_msgs_per_s": round(m, 1),
        "lxml_xsd_msgs_per_s": round(t, 1),
        "ratio": round(t / m, 2),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--loops", type=int, default=3, help="passes over the corpus per run")
    p.add_argument("--cpu", type=int, default=None, help="core to pin to (default: the first allowed)")
    args = p.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))})
    schema = etree.XMLSchema(etree.parse(str(XSD), PARSER))
    files = corpus(schema)
    county = files["county_rainstorm (generated)"]
    result: dict[str, Any] = {
        "benchmark": "cap_parse",
        "runs": args.runs,
        "files": sorted(files),
        "corpus_bytes": sum(len(b) for b in files.values()),
        # The whole corpus: dominated in bytes by one 880 KB polygon, so also the county message alone.
        "corpus": measure(list(files.values()), schema, args.runs, args.loops),
        "county_message": measure([county], schema, args.runs, args.loops * 50),
        "corpus_without_largest": measure(
            [b for b in files.values() if len(b) < 100_000], schema, args.runs, args.loops * 5
        ),
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
