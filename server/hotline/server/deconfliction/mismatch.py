"""A pre-notification in the wrong place: how far an activity notice's area is from the
notifying party's own units.

A party that pre-notifies a strike, a flight or a ground movement normally has units at
or heading to the area. When every unit of the kinds the activity involves (aircraft
for a flight, ground units for a ground movement, any for a strike) that the party
reported recently is far from the area, now and along its dead-reckoned track until the
window closes (looking at most :data:`HORIZON_S` ahead), the notice may give the wrong
location: "off by several kilometres". The engine then tells exercise control, as a
trainer's cue; the parties are not told.
"""

from __future__ import annotations

import numpy as np
import shapely

from hotline.server.deconfliction.geodesy import GEOD, metres_per_degree
from hotline.server.deconfliction.input_checks import NoticeArea
from hotline.server.deconfliction.tracks import Track

#: How far ahead a unit's track is followed: beyond this, dead reckoning means little.
HORIZON_S = 1800.0
#: Track points are taken this often.
_STEP_S = 30.0


def nearest_unit(
    area: NoticeArea, units: list[Track], now: float, stale_after_s: float
) -> tuple[Track, float] | None:
    """The unit that is, or by dead reckoning will be, nearest the notice's area before
    its window closes, with that geodesic distance (0 inside); None without units. A
    unit whose report is older than ``stale_after_s`` is taken where it was seen."""
    if not units:
        return None
    end = min(max(area.end_s, now), now + HORIZON_S)
    times = np.arange(0.0, end - now + _STEP_S, _STEP_S)
    times[-1] = min(times[-1], end - now)
    lat0, lon0 = area.shape.centre
    ky, kx = metres_per_degree(lat0)
    # Candidates by a flat distance about the area's centre, which is within a few per
    # cent of the geodesic at these ranges; the nearest few are then measured exactly.
    planar = [
        shapely.transform(copy, lambda xy: (xy - (lon0, lat0)) * (kx, ky))
        for copy in area.shape.copies
    ]
    flat: list[tuple[float, int, float, float]] = []
    for i, unit in enumerate(units):
        if unit.is_fresh(now, stale_after_s):
            lats, lons = _track(unit, now, times)
        else:  # too old to extrapolate: where it was seen
            lats, lons = np.array([unit.lat]), np.array([unit.lon])
        xs = ((lons - lon0 + 180.0) % 360.0 - 180.0) * kx
        ys = (lats - lat0) * ky
        distances = np.min([shapely.distance(p, shapely.points(xs, ys)) for p in planar], axis=0)
        k = int(np.argmin(distances))
        flat.append((float(distances[k]), i, float(lats[k]), float(lons[k])))
    flat.sort()
    best: tuple[Track, float] | None = None
    for rough, i, lat, lon in flat:
        if best is not None and rough * 0.9 - 100.0 > best[1]:
            break
        exact = 0.0 if area.shape.contains(lat, lon) else area.shape.edge_distance_m(lat, lon)
        if best is None or exact < best[1]:
            best = (units[i], exact)
    return best


def _track(unit: Track, now: float, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latitudes and longitudes of the unit at ``now + times``, along its geodesic."""
    n = len(times)
    if unit.speed == 0.0:
        return np.full(n, unit.lat), np.full(n, unit.lon)
    distances = unit.speed * (now - unit.observed + times)
    lons, lats, _ = GEOD.fwd(
        np.full(n, unit.lon), np.full(n, unit.lat), np.full(n, unit.course), distances
    )
    return np.asarray(lats), (np.asarray(lons) + 180.0) % 360.0 - 180.0
