"""The outline of a corridor, traced on the ellipsoid.

A corridor is every point within ``half_width`` (geodesic) of a polyline whose legs are
geodesics. Its outline is built from pieces that each hold only such points, and
together cover them all:

- for each leg, a *strip*: at points along the leg (every ``spacing`` metres), the
  points ``half_width`` away on the geodesics leaving the leg at right angles, left and
  right. The nearest point of the leg to each of them is its foot, so every vertex of a
  strip's long sides is exactly ``half_width`` from the path;
- at each bend and at both ends, a *fan*: points on the geodesic circle of radius
  ``half_width`` about the vertex, over the angles the strips leave uncovered (the
  outside of a bend, the cap of an end).

The union's edge is therefore exact at every vertex; between vertices the chords stray
by the sagitta of the arc (``max_sagitta`` for the fans, millimetres for the strips).
No projection is involved, so the half-width holds as well 1,000 km from the corridor's
middle as at it. Longitudes are unwrapped relative to the path (which may run past
±180), so a corridor across the antimeridian is one piece.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from hotline.server.deconfliction.geodesy import GEOD, FloatArray

#: How far strips run past their leg's ends; a point at the half-width beside that
#: extension is outside the corridor by only 1e-9 m.
_OVERLAP_M = 0.01


def corridor_outline(
    lats: FloatArray,
    lons: FloatArray,
    half_width: float,
    *,
    spacing: float,
    max_sagitta: float,
) -> BaseGeometry:
    """The area within ``half_width`` metres of the geodesic polyline through the
    points (degrees; longitudes continuous), in unwrapped longitude/latitude degrees.

    The points are the polyline's vertices, distinct and at least two.
    """
    # Angle between fan points such that a chord strays at most max_sagitta inside.
    step = math.degrees(2.0 * math.acos(max(1.0 - max_sagitta / half_width, -1.0)))
    pieces: list[Polygon] = []
    count = len(lats)
    forward: list[float] = []  # azimuth of each leg at its start
    arriving: list[float] = []  # azimuth of each leg at its end
    for i in range(count - 1):
        strip, start_azimuth, end_azimuth = _strip(
            float(lats[i]),
            float(lons[i]),
            float(lats[i + 1]),
            float(lons[i + 1]),
            half_width=half_width,
            spacing=spacing,
        )
        pieces.append(strip)
        forward.append(start_azimuth)
        arriving.append(end_azimuth)
    # Caps: half a circle behind the start and ahead of the end.
    pieces.append(
        _fan(
            float(lats[0]),
            float(lons[0]),
            half_width,
            first=forward[0] + 90.0,
            sweep=180.0,
            step=step,
        )
    )
    pieces.append(
        _fan(
            float(lats[-1]),
            float(lons[-1]),
            half_width,
            first=arriving[-1] - 90.0,
            sweep=180.0,
            step=step,
        )
    )
    for i in range(1, count - 1):
        turn = (forward[i] - arriving[i - 1] + 180.0) % 360.0 - 180.0
        if abs(turn) < 1e-9:
            continue
        # The gap opens on the outside of the bend; a fan on both sides is harmless
        # (any fan about a vertex lies inside the corridor) and saves deciding which.
        sweep = abs(turn)
        first = arriving[i - 1] if turn > 0 else forward[i]
        for side in (-90.0, 90.0):
            pieces.append(
                _fan(
                    float(lats[i]),
                    float(lons[i]),
                    half_width,
                    first=first + side,
                    sweep=sweep,
                    step=step,
                )
            )
    return shapely.union_all(pieces)


def _strip(
    lat1: float, lon1: float, lat2: float, lon2: float, *, half_width: float, spacing: float
) -> tuple[Polygon, float, float]:
    """One leg's strip, with the leg's azimuth at its start and at its end."""
    azimuth, back, length = GEOD.inv(lon1, lat1, lon2, lat2)
    n = max(1, math.ceil(length / spacing)) + 1
    # A centimetre past either end, so that consecutive strips overlap rather than
    # meet along an edge computed twice (their union would fall apart at rounding gaps).
    distances = np.linspace(-_OVERLAP_M, length + _OVERLAP_M, n)
    lons, lats, backs = GEOD.fwd(np.full(n, lon1), np.full(n, lat1), np.full(n, azimuth), distances)
    # fwd gives the azimuth back towards the start; the leg runs the opposite way.
    azimuths = np.asarray(backs) + 180.0
    lons = lon1 + _wrap(np.asarray(lons) - lon1)
    lats = np.asarray(lats)
    sides: list[tuple[FloatArray, FloatArray]] = []
    for side in (-90.0, 90.0):
        side_lons, side_lats, _ = GEOD.fwd(lons, lats, azimuths + side, np.full(n, half_width))
        sides.append((lons + _wrap(np.asarray(side_lons) - lons), np.asarray(side_lats)))
    (left_lons, left_lats), (right_lons, right_lats) = sides
    # The ends run along the perpendicular geodesics through the path, point by point:
    # as one long chord they could pass beside the end of the path, leaving a sliver
    # between the strip and the fan there.
    ends = []
    for i in (0, n - 1):
        lat, lon, azimuth_i = float(lats[i]), float(lons[i]), float(azimuths[i])
        left = _radial(lat, lon, azimuth_i - 90.0, half_width, spacing)
        right = _radial(lat, lon, azimuth_i + 90.0, half_width, spacing)
        ends.append((left, right, lat, lon))
    (start_left, start_right, lat0, lon0), (end_left, end_right, latn, lonn) = ends
    ring_lons = np.concatenate(
        [
            left_lons,
            end_left[0][::-1],
            [lonn],
            end_right[0],
            right_lons[::-1],
            start_right[0][::-1],
            [lon0],
            start_left[0],
        ]
    )
    ring_lats = np.concatenate(
        [
            left_lats,
            end_left[1][::-1],
            [latn],
            end_right[1],
            right_lats[::-1],
            start_right[1][::-1],
            [lat0],
            start_left[1],
        ]
    )
    ring = np.column_stack([ring_lons, ring_lats])
    return Polygon(ring), float(azimuth), float(back) + 180.0


def _fan(
    lat: float, lon: float, radius: float, *, first: float, sweep: float, step: float
) -> Polygon:
    """The sector of the geodesic circle about (lat, lon) from azimuth ``first``
    clockwise through ``sweep`` degrees, widened by a step on each side; its straight
    sides run along their geodesics, point by point."""
    count = max(2, math.ceil((sweep + 2.0 * step) / step) + 1)
    azimuths = np.linspace(first - step, first + sweep + step, count)
    arc_lons, arc_lats, _ = GEOD.fwd(
        np.full(count, lon), np.full(count, lat), azimuths, np.full(count, radius)
    )
    arc_lons = lon + _wrap(np.asarray(arc_lons) - lon)
    spacing = max(radius / 8.0, 100.0)
    out_lons, out_lats = _radial(lat, lon, float(azimuths[0]), radius, spacing)
    back_lons, back_lats = _radial(lat, lon, float(azimuths[-1]), radius, spacing)
    ring = np.column_stack(
        [
            np.concatenate([[lon], out_lons, arc_lons, back_lons[::-1]]),
            np.concatenate([[lat], out_lats, np.asarray(arc_lats), back_lats[::-1]]),
        ]
    )
    return Polygon(ring)


def _radial(
    lat: float, lon: float, azimuth: float, radius: float, spacing: float
) -> tuple[FloatArray, FloatArray]:
    """Points along the geodesic leaving (lat, lon) on ``azimuth``, every ``spacing``
    metres short of ``radius`` (neither end included); longitudes next to ``lon``."""
    count = math.ceil(radius / spacing) - 1
    if count <= 0:
        return np.empty(0), np.empty(0)
    distances = np.linspace(0.0, radius, count + 2)[1:-1]
    lons, lats, _ = GEOD.fwd(
        np.full(count, lon), np.full(count, lat), np.full(count, azimuth), distances
    )
    return lon + _wrap(np.asarray(lons) - lon), np.asarray(lats)


def _wrap(dlon: FloatArray) -> FloatArray:
    return (dlon + 180.0) % 360.0 - 180.0
