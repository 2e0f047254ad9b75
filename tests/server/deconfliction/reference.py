"""Independent references computed with GeographicLib, for the property tests."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

from geographiclib.geodesic import Geodesic  # type: ignore[import-untyped]  # no stubs

G = Geodesic.WGS84
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def wrap(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


def minimise(f: Callable[[float], float], low: float, high: float, tolerance: float) -> float:
    """The argument of the minimum of a unimodal ``f`` on [low, high] (golden section)."""
    a, b = low, high
    c = b - _GOLDEN * (b - a)
    d = a + _GOLDEN * (b - a)
    fc, fd = f(c), f(d)
    while b - a > tolerance:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - _GOLDEN * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + _GOLDEN * (b - a)
            fd = f(d)
    return (a + b) / 2.0


def distance_to_path(lat: float, lon: float, path: Sequence[tuple[float, float]]) -> float:
    """Geodesic distance (m) from a point to the nearest point of a geodesic polyline.

    Along one leg the distance to a point near it has a single minimum, so a golden
    section search to a centimetre finds it; the ends are compared too.
    """
    best = math.inf
    for (lat1, lon1), (lat2, lon2) in itertools.pairwise(path):
        leg = G.InverseLine(lat1, lon1, lat2, lon2)

        def along(s: float, leg: object = leg) -> float:
            p = leg.Position(s)  # type: ignore[attr-defined]
            return float(G.Inverse(lat, lon, p["lat2"], p["lon2"])["s12"])

        s = minimise(along, 0.0, leg.s13, 0.01)
        best = min(best, along(s), along(0.0), along(leg.s13))
    return best
