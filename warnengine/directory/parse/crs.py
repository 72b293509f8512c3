"""Coordinates from Chinese web maps to WGS84: `--crs wgs84|cgcs2000|gcj02|bd09`.

CGCS2000 and WGS84 differ by centimetres: taken as they are. GCJ-02 (Amap, Tencent) and BD-09 (Baidu) are
offset by hundreds of metres with public forward formulas (GCJ-02: the widely published eviltransform /
coordtransform constants, Krasovsky ellipsoid a = 6378245, e² = 0.00669342162296594323; BD-09: GCJ-02 then
the Baidu rotation, x_pi = π·3000/180). No closed inverse exists; `to_wgs84` inverts the forward transform
by fixed-point iteration, to well under a metre in a handful of steps.
"""

from __future__ import annotations

import math

CRS_CHOICES = ("wgs84", "cgcs2000", "gcj02", "bd09")

_A, _EE = 6378245.0, 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0
_TOLERANCE_DEG = 1e-7  # ~1 cm
_STEPS = 30


def _dlat(x: float, y: float) -> float:
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    return r + (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0


def _dlon(x: float, y: float) -> float:
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    return r + (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """The forward GCJ-02 offset (applied everywhere: the caller decides what is in China)."""
    x, y = lon - 105.0, lat - 35.0
    rad = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (_dlat(x, y) * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (_dlon(x, y) * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return lon + dlon, lat + dlat


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def to_wgs84(crs: str, lon: float, lat: float) -> tuple[float, float]:
    """`(lon, lat)` given in `crs` as WGS84: the forward transform inverted by iteration."""
    if crs in ("wgs84", "cgcs2000"):
        return lon, lat
    forward = wgs84_to_gcj02 if crs == "gcj02" else wgs84_to_bd09
    x, y = lon, lat
    for _ in range(_STEPS):
        fx, fy = forward(x, y)
        dx, dy = fx - lon, fy - lat
        x, y = x - dx, y - dy
        if abs(dx) < _TOLERANCE_DEG and abs(dy) < _TOLERANCE_DEG:
            break
    return x, y
