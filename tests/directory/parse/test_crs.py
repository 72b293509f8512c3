from __future__ import annotations

import math
import random

import pytest

from warnengine.directory.parse.crs import to_wgs84, wgs84_to_bd09, wgs84_to_gcj02


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (a[0] - b[0]) * 111_320 * math.cos(math.radians(a[1]))
    return math.hypot(dx, (a[1] - b[1]) * 110_574)


def test_forward_offsets_are_hundreds_of_metres() -> None:
    # Tiananmen: the published GCJ-02 offset there is ~ +0.0062° lon, +0.0014° lat (a few hundred metres).
    here = (116.3912, 39.9067)
    gcj = wgs84_to_gcj02(*here)
    assert 0.005 < gcj[0] - here[0] < 0.0075 and 0.0005 < gcj[1] - here[1] < 0.0025
    assert 100 < metres(here, gcj) < 1000 and metres(gcj, wgs84_to_bd09(*here)) > 500


@pytest.mark.parametrize(("crs", "forward"), [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_inverse_within_a_metre_across_china(crs: str, forward: object) -> None:
    rng = random.Random(3)
    assert callable(forward)
    for _ in range(500):
        p = (rng.uniform(74, 134), rng.uniform(18, 53))
        back = to_wgs84(crs, *forward(*p))
        assert metres(p, back) < 1.0


def test_wgs84_and_cgcs2000_pass_through() -> None:
    assert to_wgs84("wgs84", 114.5, 35.5) == (114.5, 35.5) == to_wgs84("cgcs2000", 114.5, 35.5)
