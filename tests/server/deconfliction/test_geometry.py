"""Point-in-zone is geodesically right: circles by geodesic radius, polygons with
geodesic edges, corridors by half-width, across the antimeridian too."""

from __future__ import annotations

import pytest
from geographiclib.geodesic import Geodesic  # type: ignore[import-untyped]  # no stubs
from hypothesis import given
from hypothesis import strategies as st
from server.deconfliction.scenario import EUPHRATES, circle, corridor, polygon

from hotline.server.deconfliction.geometry import shape_from_geometry
from hotline.server.errors import InvalidArgument

G = Geodesic.WGS84
latitudes = st.floats(-70.0, 70.0)
longitudes = st.floats(-180.0, 180.0)
azimuths = st.floats(0.0, 360.0, exclude_max=True)
# Margins well above the promised accuracy (below a metre), well below any zone size.
MARGIN_M = 5.0


def _wrap(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


@given(latitudes, longitudes, st.floats(200.0, 500_000.0), azimuths, st.floats(0.0, 1.0))
def test_a_point_within_the_radius_is_inside_the_circle(
    lat: float, lon: float, radius: float, azimuth: float, fraction: float
) -> None:
    shape = shape_from_geometry(circle((lat, lon), radius), "area")
    p = G.Direct(lat, lon, azimuth, fraction * (radius - MARGIN_M))
    assert shape.contains(p["lat2"], _wrap(p["lon2"]))


@given(latitudes, longitudes, st.floats(200.0, 500_000.0), azimuths, st.floats(0.0, 3.0))
def test_a_point_beyond_the_radius_is_outside_the_circle(
    lat: float, lon: float, radius: float, azimuth: float, beyond: float
) -> None:
    shape = shape_from_geometry(circle((lat, lon), radius), "area")
    p = G.Direct(lat, lon, azimuth, radius + MARGIN_M + beyond * radius)
    assert not shape.contains(p["lat2"], _wrap(p["lon2"]))


def _star(lat: float, lon: float, radius: float, count: int) -> list[tuple[float, float]]:
    """A convex polygon: vertices on a geodesic circle at evenly spread azimuths."""
    points = []
    for k in range(count):
        p = G.Direct(lat, lon, 360.0 * k / count, radius)
        points.append((p["lat2"], _wrap(p["lon2"])))
    return points


@given(
    st.tuples(latitudes, longitudes, st.floats(5_000.0, 450_000.0), st.integers(3, 12)),
    st.tuples(st.floats(0.02, 0.98), st.floats(0.0, 1.0), st.integers(0, 11)),
)
def test_convex_polygon_with_geodesic_edges(
    star: tuple[float, float, float, int], probe: tuple[float, float, int]
) -> None:
    lat, lon, radius, count = star
    along, inward, edge = probe
    vertices = _star(lat, lon, radius, count)
    shape = shape_from_geometry(polygon(vertices), "zone.geometry")
    a, b = vertices[edge % count], vertices[(edge + 1) % count]
    line = G.InverseLine(a[0], a[1], b[0], b[1])
    on_edge = line.Position(along * line.s13)
    # From the centre towards a point of the edge: inside short of it, outside past it.
    ray = G.InverseLine(lat, lon, on_edge["lat2"], on_edge["lon2"])
    inside = ray.Position(inward * (ray.s13 - 4 * MARGIN_M))
    outside = ray.Position(ray.s13 + 4 * MARGIN_M + inward * radius)
    assert shape.contains(inside["lat2"], _wrap(inside["lon2"]))
    assert not shape.contains(outside["lat2"], _wrap(outside["lon2"]))


def test_a_long_polygon_edge_follows_the_geodesic_not_the_parallel() -> None:
    # The geodesic from (50, 0) to (50, 16) runs up to 50.2764° N, some 30 km north of
    # the 50th parallel, at 8° E.
    shape = shape_from_geometry(
        polygon([(44.0, 0.0), (50.0, 0.0), (50.0, 16.0), (44.0, 16.0)]), "z"
    )
    assert shape.contains(50.2760, 8.0)
    assert not shape.contains(50.2770, 8.0)


@given(st.floats(0.05, 0.95), st.floats(-1.0, 1.0))
def test_a_point_near_the_euphrates_corridor(along: float, across: float) -> None:
    half_width = 2_000.0
    shape = shape_from_geometry(corridor(EUPHRATES, half_width), "zone.geometry")
    (lat1, lon1), (lat2, lon2) = EUPHRATES[1], EUPHRATES[2]
    leg = G.InverseLine(lat1, lon1, lat2, lon2)
    p = leg.Position(along * leg.s13, G.STANDARD)
    sideways = p["azi2"] + 90.0
    near = G.Direct(p["lat2"], p["lon2"], sideways, across * (half_width - 20.0))
    far = G.Direct(p["lat2"], p["lon2"], sideways, (1 if across >= 0 else -1) * (half_width + 20.0))
    assert shape.contains(near["lat2"], near["lon2"])
    assert not shape.contains(far["lat2"], far["lon2"])


def test_circle_across_the_antimeridian_holds_points_on_both_sides() -> None:
    shape = shape_from_geometry(circle((-17.0, 179.95), 20_000.0), "area")
    assert shape.contains(-17.0, 179.99)
    assert shape.contains(-17.0, -179.99)
    assert shape.contains(-17.05, -179.9)
    assert not shape.contains(-17.0, -179.7)
    assert not shape.contains(-17.0, 179.7)


def test_polygon_across_the_antimeridian_is_the_small_one() -> None:
    shape = shape_from_geometry(
        polygon([(-16.0, 179.0), (-16.0, -179.0), (-18.0, -179.0), (-18.0, 179.0)]), "z"
    )
    assert shape.contains(-17.0, 180.0)
    assert shape.contains(-17.0, -180.0)
    assert shape.contains(-17.0, -179.5)
    assert shape.contains(-17.0, 179.5)
    assert not shape.contains(-17.0, 0.0)
    assert not shape.contains(-17.0, -178.5)


def test_a_polygon_around_a_pole_is_refused() -> None:
    ring = [(80.0, lon) for lon in (0.0, 90.0, 180.0, -90.0)]
    with pytest.raises(InvalidArgument, match=r"zone\.geometry\.polygon: "):
        shape_from_geometry(polygon(ring), "zone.geometry")


def test_a_zone_wider_than_2000_km_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="split the measure"):
        shape_from_geometry(polygon([(30.0, 30.0), (30.0, 55.0), (10.0, 40.0)]), "zone.geometry")
