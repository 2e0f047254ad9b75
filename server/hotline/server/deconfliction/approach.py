"""Closest point of approach of two units, each holding course and speed along its
geodesic.

A unit that reports course ``c`` and speed ``v`` at (lat, lon) is taken to fly the
geodesic leaving that point on ``c``, covering ``v`` metres a second (as
:func:`hotline.server.deconfliction.geodesy.dead_reckon` has it). The closest approach
is found by Newton-like steps: at a trial time both units are placed on their geodesics,
the pair is laid out in the azimuthal-equidistant plane of the first (the second's
heading turned by the azimuth the geodesic between them gains on the way), and the flat
closest approach of that layout moves the trial time. Near the answer the layout is
exact to second order, so a few steps settle the time to well under a second, and the
distance then is the exact geodesic distance at that time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hotline.server.deconfliction.geodesy import GEOD, wrap_longitude

_DEG = math.pi / 180.0
#: Steps stop once they move the time by less than this (seconds).
_SETTLED_S = 0.01
_MAX_STEPS = 8


_EARTH_RADIUS_M = 6_371_000.0
#: The part of :func:`flat_error_m` that does not grow with the reach.
FLAT_ERROR_FLOOR_M = 10.0


def flat_error_coefficient(lat: float, reach_m: float) -> float:
    """``k`` such that ``k * r**2 + FLAT_ERROR_FLOOR_M`` bounds :func:`flat_error_m` for
    every reach ``r`` up to ``reach_m`` at ``lat``."""
    steepest = min(abs(lat) + reach_m / 100_000.0, 89.0)
    return 0.3 * (math.tan(math.radians(steepest)) + 0.5) / _EARTH_RADIUS_M


def flat_error_m(lat: float, reach_m: float) -> float:
    """A bound on how far a flat closest-approach distance (straight motion in the
    tangent plane at ``lat``, longitudes scaled there) may stray from the geodesic one,
    for units within ``reach_m`` of the first one's start over the look-ahead.

    Straight lines in the tangent plane part from geodesics by about
    reach^2 tan(lat) / 2R, and the plane's scale errs by the square of the reach too;
    the coefficient was measured against :func:`closest_approach` over the whole earth
    (worst 0.11 of reach^2 (tan(lat) + 0.5) / R) and is taken about three times larger.
    """
    return flat_error_coefficient(lat, reach_m) * reach_m * reach_m + FLAT_ERROR_FLOOR_M


@dataclass(frozen=True, slots=True)
class Mover:
    """A unit's track: where it was at ``at`` (epoch seconds), its course and speed."""

    lat: float
    lon: float
    course_deg: float
    speed_mps: float
    at: float

    def position(self, when: float) -> tuple[float, float, float]:
        """(lat, lon, heading in degrees true) at ``when``, along the geodesic."""
        distance = self.speed_mps * (when - self.at)
        if distance == 0.0:
            return self.lat, self.lon, self.course_deg
        lon, lat, back = GEOD.fwd(self.lon, self.lat, self.course_deg, distance)
        return float(lat), wrap_longitude(float(lon)), float(back) + 180.0


@dataclass(frozen=True, slots=True)
class Approach:
    """The closest point of approach after ``now``."""

    time_s: float
    """Seconds from ``now`` to the closest approach (0 if the pair is diverging)."""
    distance_m: float
    """Geodesic distance between the two units then."""
    a: tuple[float, float]
    b: tuple[float, float]
    """Where each unit is then (lat, lon)."""


def closest_approach(
    a: Mover, b: Mover, now: float, horizon_s: float, *, start_s: float = 0.0
) -> Approach:
    """The closest approach of ``a`` and ``b`` after ``now``, searched from ``start_s``
    (a first estimate) up to twice ``horizon_s``.

    Over such a horizon (minutes) the distance between two units on geodesics has a
    single minimum; a pair already diverging at ``now`` has its closest approach at 0.
    """
    t = min(max(start_s, 0.0), 2.0 * horizon_s)
    for _ in range(_MAX_STEPS):
        lat_a, lon_a, heading_a = a.position(now + t)
        lat_b, lon_b, heading_b = b.position(now + t)
        azimuth, back, distance = GEOD.inv(lon_a, lat_a, lon_b, lat_b)
        # B's heading as seen in A's plane: the geodesic from A arrives at B on
        # back + 180, and leaves A on azimuth.
        turn = azimuth - (back + 180.0)
        rx = distance * math.sin(azimuth * _DEG)
        ry = distance * math.cos(azimuth * _DEG)
        hb = (heading_b + turn) * _DEG
        ha = heading_a * _DEG
        vx = b.speed_mps * math.sin(hb) - a.speed_mps * math.sin(ha)
        vy = b.speed_mps * math.cos(hb) - a.speed_mps * math.cos(ha)
        v2 = vx * vx + vy * vy
        if v2 < 1e-12:
            break
        step = -(rx * vx + ry * vy) / v2
        settled = min(max(t + step, 0.0), 2.0 * horizon_s)
        if abs(settled - t) < _SETTLED_S:
            t = settled
            break
        t = settled
    lat_a, lon_a, _ = a.position(now + t)
    lat_b, lon_b, _ = b.position(now + t)
    distance = float(GEOD.inv(lon_a, lat_a, lon_b, lat_b)[2])
    return Approach(time_s=t, distance_m=distance, a=(lat_a, lon_a), b=(lat_b, lon_b))
