"""Distances and dead reckoning agree with GeographicLib on WGS-84."""

from __future__ import annotations

import numpy as np
from geographiclib.geodesic import Geodesic  # type: ignore[import-untyped]  # no stubs
from hypothesis import given
from hypothesis import strategies as st

from hotline.server.deconfliction import geodesy

latitudes = st.floats(-85.0, 85.0)
longitudes = st.floats(-180.0, 180.0)
azimuths = st.floats(0.0, 360.0, exclude_max=True)


@given(latitudes, longitudes, azimuths, st.floats(0.0, 1_000_000.0))
def test_distance_matches_geographiclib_within_a_metre_up_to_1000_km(
    lat: float, lon: float, azimuth: float, distance: float
) -> None:
    far = Geodesic.WGS84.Direct(lat, lon, azimuth, distance)
    measured = geodesy.distance_m(lat, lon, far["lat2"], far["lon2"])
    assert abs(measured - distance) < 1.0


@given(latitudes, longitudes, latitudes, longitudes)
def test_distance_is_symmetric(lat1: float, lon1: float, lat2: float, lon2: float) -> None:
    there = geodesy.distance_m(lat1, lon1, lat2, lon2)
    back = geodesy.distance_m(lat2, lon2, lat1, lon1)
    assert abs(there - back) < 1e-6 * max(there, 1.0)


points = st.tuples(latitudes, longitudes)


@given(points, points, points)
def test_triangle_inequality(
    a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]
) -> None:
    ab = geodesy.distance_m(*a, *b)
    bc = geodesy.distance_m(*b, *c)
    ac = geodesy.distance_m(*a, *c)
    assert ac <= ab + bc + 1e-3


def test_reference_distances_in_the_deir_ezzor_scenario() -> None:
    for (lat1, lon1), (lat2, lon2) in [
        ((35.336, 40.141), (35.29, 40.26)),  # Deir Ezzor - Khasham
        ((35.401, 35.948), (35.336, 40.141)),  # Khmeimim - Deir Ezzor
        ((33.50, 38.66), (35.336, 40.141)),  # Al Tanf - Deir Ezzor
        ((25.117, 51.315), (35.336, 40.141)),  # Al Udeid - Deir Ezzor (about 1,550 km)
    ]:
        reference = Geodesic.WGS84.Inverse(lat1, lon1, lat2, lon2)["s12"]
        assert abs(geodesy.distance_m(lat1, lon1, lat2, lon2) - reference) < 1.0


def test_distance_across_the_antimeridian_is_the_short_way() -> None:
    assert abs(geodesy.distance_m(0.0, 179.99, 0.0, -179.99) - 2226.39) < 1.0


@given(latitudes, longitudes, azimuths, st.floats(0.0, 300.0), st.floats(0.0, 600.0))
def test_dead_reckoning_follows_the_geodesic_on_the_course(
    lat: float, lon: float, course: float, speed: float, elapsed: float
) -> None:
    reckoned = geodesy.dead_reckon(lat, lon, course, speed, elapsed)
    reference = Geodesic.WGS84.Direct(lat, lon, course, speed * elapsed)
    assert geodesy.distance_m(*reckoned, reference["lat2"], reference["lon2"]) < 0.01


@given(st.floats(-60.0, 60.0), longitudes, azimuths, st.floats(0.0, 500_000.0))
def test_local_plane_keeps_distances_from_its_centre(
    lat: float, lon: float, azimuth: float, distance: float
) -> None:
    far = Geodesic.WGS84.Direct(lat, lon, azimuth, distance)
    plane = geodesy.LocalPlane(lat, lon)
    xs, ys = plane.forward(np.array([far["lat2"]]), np.array([far["lon2"]]))
    assert abs(float(np.hypot(xs[0], ys[0])) - distance) < 0.01
    lats, lons = plane.inverse(xs, ys)
    assert geodesy.distance_m(float(lats[0]), float(lons[0]), far["lat2"], far["lon2"]) < 0.01
