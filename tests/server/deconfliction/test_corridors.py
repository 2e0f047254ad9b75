"""A corridor's edge is at its half-width from the path on the ellipsoid, within a metre,
for lengths up to 1,000 km and half-widths up to 50 km: along the legs, at bends and
round the ends, near the poles and across the antimeridian. The truth is GeographicLib's
distance to the nearest point of the geodesic legs."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from server.deconfliction.reference import G, distance_to_path, wrap
from server.deconfliction.scenario import corridor

from hotline.server.deconfliction.geometry import shape_from_geometry

#: The promised accuracy; points closer than this to the edge may fall either way.
TOLERANCE_M = 1.0

legs = st.lists(
    st.tuples(st.floats(0.0, 360.0, exclude_max=True), st.floats(20_000.0, 330_000.0)),
    min_size=1,
    max_size=3,
)


def _path(
    start: tuple[float, float], turns: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """A polyline from ``start``, each leg leaving on its azimuth for its length."""
    path = [start]
    for azimuth, length in turns:
        lat, lon = path[-1]
        end = G.Direct(lat, lon, azimuth, length)
        path.append((end["lat2"], wrap(end["lon2"])))
    return path


@settings(max_examples=120, deadline=None)
@given(
    start=st.tuples(st.floats(-74.0, 74.0), st.floats(-180.0, 180.0)),
    turns=legs,
    half_width=st.floats(100.0, 50_000.0),
    probe=st.tuples(
        st.integers(0, 2), st.floats(-0.3, 1.3), st.sampled_from([-1.0, 1.0]), st.floats(-40, 40)
    ),
)
@example(  # near the end of a 900 km corridor 20 km wide, just inside
    start=(35.0, 38.0),
    turns=[(90.0, 300_000.0), (90.0, 300_000.0), (90.0, 300_000.0)],
    half_width=20_000.0,
    probe=(2, 0.99, 1.0, -15.0),
)
@example(  # across the antimeridian near the pole
    start=(74.0, 179.5), turns=[(80.0, 90_000.0)], half_width=50_000.0, probe=(0, 0.5, -1.0, 3.0)
)
@example(  # a sharp bend
    start=(-40.0, -179.9),
    turns=[(270.0, 200_000.0), (100.0, 200_000.0)],
    half_width=30_000.0,
    probe=(1, 0.0, 1.0, -2.0),
)
def test_the_edge_is_at_the_half_width_from_the_path(
    start: tuple[float, float],
    turns: list[tuple[float, float]],
    half_width: float,
    probe: tuple[int, float, float, float],
) -> None:
    path = _path(start, turns)
    shape = shape_from_geometry(corridor(path, half_width), "zone.geometry")
    if len(turns) <= 2:  # two legs cannot enclose anything: no slivers left where they meet
        assert not shape.outline.interiors
    # A point off one leg (or beyond its ends), near the edge on one side.
    leg_index, along, side, offset = probe
    (lat1, lon1), (lat2, lon2) = path[leg_index % len(turns)], path[leg_index % len(turns) + 1]
    leg = G.InverseLine(lat1, lon1, lat2, lon2)
    foot = (
        G.Direct(lat1, lon1, leg.azi1, along * leg.s13)
        if along < 0
        else leg.Position(along * leg.s13)
    )
    point = G.Direct(foot["lat2"], foot["lon2"], foot["azi2"] + 90.0 * side, half_width + offset)
    lat, lon = point["lat2"], wrap(point["lon2"])
    truth = distance_to_path(lat, lon, path)
    if abs(truth - half_width) > TOLERANCE_M:
        assert shape.contains(lat, lon) == (truth < half_width), (truth, half_width)


def test_a_point_near_the_end_of_a_long_corridor_is_on_the_right_side() -> None:
    # 900 km east along 35° N, 20 km either side: 1 km from its end, 19,985 m and
    # 20,015 m from the path.
    path = _path((35.0, 30.0), [(90.0, 450_000.0), (90.0, 450_000.0)])
    shape = shape_from_geometry(corridor(path, 20_000.0), "zone.geometry")
    (lat1, lon1), (lat2, lon2) = path[1], path[2]
    leg = G.InverseLine(lat1, lon1, lat2, lon2)
    foot = leg.Position(leg.s13 - 1_000.0)
    for across, inside in ((19_985.0, True), (20_015.0, False), (-19_985.0, True)):
        p = G.Direct(foot["lat2"], foot["lon2"], foot["azi2"] + 90.0, across)
        assert shape.contains(p["lat2"], wrap(p["lon2"])) is inside, across
