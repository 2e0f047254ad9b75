"""WGS-84 geodesy: exact geodesic distances, dead reckoning and local planes.

Everything exact goes through :data:`GEOD`, PROJ's implementation of Karney's geodesic
algorithms (the same algorithms as GeographicLib), so distances agree with GeographicLib
to well under a millimetre. The hot path of the engine avoids even that where it can:
:func:`metres_per_degree` gives the local scale of a latitude for flat-earth estimates,
which are only ever used to discard candidates far from a threshold.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pyproj

#: The WGS-84 ellipsoid.
GEOD = pyproj.Geod(ellps="WGS84")

_A = 6378137.0
_F = 1 / 298.257223563
_E2 = _F * (2 - _F)
_DEG = math.pi / 180

FloatArray = npt.NDArray[np.float64]


def wrap_longitude(lon: float) -> float:
    """The same meridian as ``lon``, in [-180, 180)."""
    return (lon + 180.0) % 360.0 - 180.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Geodesic distance in metres between two points (degrees)."""
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def inverse(lat1: float, lon1: float, lat2: float, lon2: float) -> tuple[float, float]:
    """Distance (m) and initial azimuth (degrees true) of the geodesic from 1 to 2."""
    azimuth, _, distance = GEOD.inv(lon1, lat1, lon2, lat2)
    return float(distance), float(azimuth) % 360.0


def destination(lat: float, lon: float, azimuth_deg: float, distance: float) -> tuple[float, float]:
    """The point reached along the geodesic leaving (lat, lon) on ``azimuth_deg``."""
    lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth_deg, distance)
    return float(lat2), wrap_longitude(float(lon2))


def dead_reckon(
    lat: float, lon: float, course_deg: float, speed_mps: float, elapsed_s: float
) -> tuple[float, float]:
    """Where a unit holding its course and speed is ``elapsed_s`` seconds later.

    The unit is taken to follow the geodesic that leaves its position on its course; a
    negative ``elapsed_s`` runs the track backwards.
    """
    return destination(lat, lon, course_deg, speed_mps * elapsed_s)


def metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of latitude and of longitude at ``lat`` on the ellipsoid.

    These are the radii of curvature (meridional and prime vertical) of WGS-84; a flat
    estimate built on them is within a few metres of the geodesic at 10 km, and within
    about 1 % at 150 km, which is all the pre-filters need.
    """
    s = math.sin(lat * _DEG)
    w = 1.0 - _E2 * s * s
    meridional = _A * (1.0 - _E2) / (w * math.sqrt(w))
    prime_vertical = _A / math.sqrt(w)
    return meridional * _DEG, max(prime_vertical * math.cos(lat * _DEG) * _DEG, 1e-3)


class LocalPlane:
    """The azimuthal-equidistant plane of WGS-84 centred on one point.

    Distances and azimuths from the centre are exact (they are geodesic distances and
    azimuths); away from the centre the scale across the radius grows by about
    (d / R)^2 / 6, i.e. 0.1 % at 500 km.
    """

    def __init__(self, lat: float, lon: float) -> None:
        self.lat = lat
        self.lon = lon

    def forward(self, lats: FloatArray, lons: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Plane coordinates (x east, y north, metres) of points given in degrees."""
        n = len(lats)
        azimuth, _, distance = GEOD.inv(
            np.full(n, self.lon), np.full(n, self.lat), np.asarray(lons), np.asarray(lats)
        )
        radians = np.radians(azimuth)
        return distance * np.sin(radians), distance * np.cos(radians)

    def inverse(self, xs: FloatArray, ys: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Latitudes and longitudes (degrees, longitudes in [-180, 180]) of plane points."""
        n = len(xs)
        azimuth = np.degrees(np.arctan2(xs, ys))
        lons, lats, _ = GEOD.fwd(
            np.full(n, self.lon), np.full(n, self.lat), azimuth, np.hypot(xs, ys)
        )
        return np.asarray(lats, dtype=np.float64), np.asarray(lons, dtype=np.float64)


def geodesic_path(
    lats: FloatArray, lons: FloatArray, spacing_m: float
) -> tuple[FloatArray, FloatArray]:
    """The polyline through the points, each leg densified along its geodesic.

    Consecutive output points are at most ``spacing_m`` apart. Longitudes are unwrapped
    (continuous, possibly beyond ±180) so that a path across the antimeridian stays one
    piece; the first point keeps its longitude.
    """
    out_lats: list[float] = [float(lats[0])]
    out_lons: list[float] = [float(lons[0])]
    for i in range(len(lats) - 1):
        lat1, lon1, lat2, lon2 = (
            float(lats[i]),
            float(lons[i]),
            float(lats[i + 1]),
            float(lons[i + 1]),
        )
        length = distance_m(lat1, lon1, lat2, lon2)
        between = math.ceil(length / spacing_m) - 1
        if between > 0:
            for lon, lat in GEOD.npts(lon1, lat1, lon2, lat2, between):
                out_lats.append(lat)
                out_lons.append(lon)
        out_lats.append(lat2)
        out_lons.append(lon2)
    unwrapped = np.unwrap(np.radians(np.asarray(out_lons)))
    return np.asarray(out_lats), np.degrees(unwrapped) + (out_lons[0] - math.degrees(unwrapped[0]))


def geodesic_circle(
    lat: float, lon: float, radius_m: float, max_sagitta_m: float
) -> tuple[FloatArray, FloatArray]:
    """Points on the geodesic circle, close enough that no chord strays more than
    ``max_sagitta_m`` inside it. Longitudes are unwrapped around the centre's."""
    step = 2.0 * math.acos(max(1.0 - max_sagitta_m / radius_m, -1.0))
    count = max(16, math.ceil(2.0 * math.pi / step))
    azimuths = np.linspace(0.0, 360.0, count, endpoint=False)
    lons, lats, _ = GEOD.fwd(
        np.full(count, lon), np.full(count, lat), azimuths, np.full(count, radius_m)
    )
    lons = np.asarray(lons) - lon
    lons = (lons + 180.0) % 360.0 - 180.0 + lon
    return np.asarray(lats, dtype=np.float64), lons
