"""Separation minima, and the exact test of one pair of units.

Both units are dead-reckoned to ``now`` along their reported course and speed, unless
their report is stale (older than ``stale_after_s``): a stale unit is taken where it
was last seen and is never extrapolated into a prediction. A flat estimate (straight
motion in the tangent plane of the first unit) discards the pairs far from a minimum;
its error grows with the square of the distances involved and with the latitude
(``approach.flat_error_m``), so wherever it could matter the closest approach is
computed on the units' geodesics (:mod:`hotline.server.deconfliction.approach`), and the
current distance is the exact WGS-84 geodesic distance.

Aircraft are separated if they are at least ``air_horizontal_m`` apart horizontally
*or* at least ``air_vertical_m`` apart vertically (altitude is held constant in the
prediction). Ground units, and sea units, are separated at ``ground_m``. Units of
different domains are not compared with each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hotline.server.deconfliction.approach import (
    FLAT_ERROR_FLOOR_M,
    Mover,
    closest_approach,
    flat_error_coefficient,
)
from hotline.server.deconfliction.geodesy import distance_m, wrap_longitude
from hotline.server.deconfliction.tracks import Track
from hotline.v1 import common_pb2

_AIR = common_pb2.DOMAIN_AIR


@dataclass(frozen=True)
class SeparationMinima:
    """How close units of different parties may come, and how far ahead to look."""

    air_horizontal_m: float = 5556.0
    air_vertical_m: float = 300.0
    ground_m: float = 1000.0
    look_ahead_s: float = 300.0
    stale_after_s: float = 60.0
    #: How far an activity notice's area may be from the notifying party's own units
    #: before exercise control is told (NOTICE_MISMATCH).
    notice_mismatch_m: float = 10_000.0

    def horizontal_m(self, domain: int) -> float:
        """The horizontal minimum for two units of ``domain``."""
        return self.air_horizontal_m if domain == _AIR else self.ground_m


#: An open episode ends only once the pair is clear of the minima by this fraction, so
#: that a pair hovering at the minimum does not raise an alert on every report.
REARM_MARGIN = 0.05


@dataclass(frozen=True, slots=True)
class PairAssessment:
    """Where a pair of units stands now and where it is heading; the engine applies
    the minima (with :data:`REARM_MARGIN` for episodes already open)."""

    a: Track
    b: Track
    distance_m: float
    """Horizontal distance now (the exact geodesic whenever it is near the minimum)."""
    vertical_m: float
    """Altitude difference for aircraft; 0 for surface units."""
    location: tuple[float, float]
    """Midpoint of the two units now (lat, lon)."""
    time_to_cpa_s: float
    """Seconds to the closest point of approach, if it lies within the look-ahead and
    both reports are fresh; NaN otherwise."""
    cpa_distance_m: float
    """Horizontal distance at the closest point of approach; NaN when there is none."""
    cpa_location: tuple[float, float]
    """Midpoint of the two units at the closest point of approach (lat, lon); NaN when
    there is none."""


#: Dead reckoning shorter than this is done flat: it strays from the geodesic by
#: millimetres (a quarter of a metre at 2 km and 80° of latitude).
_FLAT_MOVE_M = 2_000.0


def _now_at(track: Track, fresh: bool, now: float) -> tuple[float, float]:
    """Where the track is at ``now`` (lat, lon), along its geodesic."""
    dt = now - track.observed if fresh else 0.0
    if track.speed * dt < _FLAT_MOVE_M:
        return _point(track, track.ve * dt, track.vn * dt)
    lat, lon, _ = _mover(track, fresh).position(now)
    return lat, lon


def _mover(track: Track, fresh: bool) -> Mover:
    """The track's geodesic motion; a stale unit stays where it was seen."""
    speed = track.speed if fresh else 0.0
    return Mover(track.lat, track.lon, track.course, speed, track.observed)


def _point(track: Track, x: float, y: float) -> tuple[float, float]:
    """The point ``x`` m east and ``y`` m north of the track's reported position."""
    return track.lat + y / track.ky, wrap_longitude(track.lon + x / track.kx)


def _midpoint(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    dlon = wrap_longitude(b[1] - a[1])
    return (a[0] + b[0]) / 2.0, wrap_longitude(a[1] + dlon / 2.0)


def assess(
    a: Track,
    b: Track,
    now: float,
    minima: SeparationMinima,
    *,
    predicted_below: float = -math.inf,
    flat_k: float | None = None,
) -> PairAssessment | None:
    """Measures two units of one domain; None if they are clear of the minima (with
    the re-arm margin) now and over the look-ahead, which is the answer for almost
    every pair a neighbourhood offers.

    ``predicted_below`` is the closest-approach distance below which the caller keeps
    a prediction it holds: when the flat estimate is surely below it, the geodesic
    computation (which could change nothing) is skipped. ``flat_k`` is the
    :func:`~hotline.server.deconfliction.approach.flat_error_coefficient` at ``a``'s
    latitude for the largest reach the pair may have, if the caller has it.
    """
    slack = 1.0 + REARM_MARGIN
    h = minima.horizontal_m(a.domain) * slack
    vertical = abs(a.alt - b.alt) if a.domain == _AIR else 0.0
    if vertical >= minima.air_vertical_m * slack:
        return None
    stale = minima.stale_after_s
    dta = now - a.observed
    dtb = now - b.observed
    fresh_a = dta <= stale
    fresh_b = dtb <= stale
    fresh = fresh_a and fresh_b
    ax = a.ve * dta if fresh_a else 0.0
    ay = a.vn * dta if fresh_a else 0.0
    bx = wrap_longitude(b.lon - a.lon) * a.kx + (b.ve * dtb if fresh_b else 0.0)
    by = (b.lat - a.lat) * a.ky + (b.vn * dtb if fresh_b else 0.0)
    dx = bx - ax
    dy = by - ay
    d0 = math.hypot(dx, dy)
    look_ahead = minima.look_ahead_s
    near = h * 1.02 + 100.0  # the flat estimate is within 2 % + 100 m of the geodesic
    closing = a.speed + b.speed
    k = flat_error_coefficient(a.lat, d0 + closing * look_ahead) if flat_k is None else flat_k
    if d0 > near + (closing * look_ahead + k * d0 * d0 + FLAT_ERROR_FLOOR_M if fresh else 0.0):
        return None
    tcpa = math.nan
    dcpa = math.nan
    cpa_location = (math.nan, math.nan)
    if fresh:
        dvx = b.ve - a.ve
        dvy = b.vn - a.vn
        dv2 = dvx * dvx + dvy * dvy
        t = -(dx * dvx + dy * dvy) / dv2 if dv2 > 1e-12 else 0.0
        t = min(max(t, 0.0), look_ahead)
        flat = math.hypot(dx + dvx * t, dy + dvy * t)
        # flat_error_m of the pair's reach: now, and both speeds until after the CPA.
        error = k * (d0 + closing * min(t + 30.0, look_ahead)) ** 2 + FLAT_ERROR_FLOOR_M
        if flat + error < predicted_below and 0.0 < t < look_ahead:
            tcpa, dcpa = t, flat  # a prediction held, and surely still standing
        elif flat < h + error:
            found = closest_approach(_mover(a, True), _mover(b, True), now, look_ahead, start_s=t)
            if 0.0 < found.time_s <= look_ahead:
                tcpa = found.time_s
                dcpa = found.distance_m
                cpa_location = _midpoint(found.a, found.b)
    if d0 >= near and not dcpa < h:
        return None
    if d0 < near:
        here_a = _now_at(a, fresh_a, now)
        here_b = _now_at(b, fresh_b, now)
        d0 = distance_m(here_a[0], here_a[1], here_b[0], here_b[1])
        location = _midpoint(here_a, here_b)
    else:
        location = _midpoint(_point(a, ax, ay), _point(a, bx, by))
    return PairAssessment(
        a=a,
        b=b,
        distance_m=d0,
        vertical_m=vertical,
        location=location,
        time_to_cpa_s=tcpa,
        cpa_distance_m=dcpa,
        cpa_location=cpa_location,
    )
