"""Crossing a deconfliction line: a move between two reports changes sides exactly when
its ends lie on either side of the line's geodesic path (as GeographicLib draws it), near
the poles and across the antimeridian too."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from server.deconfliction.reference import G, wrap
from server.deconfliction.scenario import corridor

from hotline.server.deconfliction.geometry import shape_from_geometry
from hotline.server.deconfliction.lines import LineCrossing

#: Ends closer to the line than this are not generated: the line is exact to a metre.
NEAR_M = 1.0
offsets = st.floats(NEAR_M, 20_000.0) | st.floats(-20_000.0, -NEAR_M)


@settings(max_examples=200, deadline=None)
@given(
    line=st.tuples(
        st.floats(-84.0, 84.0),
        st.floats(-180.0, 180.0),
        st.floats(0.0, 360.0, exclude_max=True),
        st.floats(1_000.0, 300_000.0),
    ),
    along=st.tuples(st.floats(0.02, 0.98), st.floats(0.02, 0.98)),
    across=st.tuples(offsets, offsets),
)
@example(line=(65.0, 179.875, 5.0, 55098.0), along=(0.5, 0.5), across=(13.0, -14.0))
@example(line=(65.0, 179.875, 5.0, 55098.0), along=(0.5, 0.5), across=(13.0, 14.0))
@example(line=(-30.0, 179.99, 90.0, 20_000.0), along=(0.1, 0.9), across=(-5.0, 7.0))
@example(line=(10.0, -179.99, 270.0, 20_000.0), along=(0.2, 0.8), across=(1.5, -1.5))
@example(line=(84.0, 170.0, 90.0, 200_000.0), along=(0.3, 0.7), across=(2.0, -2.0))
def test_a_move_crosses_the_line_exactly_when_its_ends_are_on_either_side(
    line: tuple[float, float, float, float],
    along: tuple[float, float],
    across: tuple[float, float],
) -> None:
    lat, lon, bearing, length = line
    end = G.Direct(lat, lon, bearing, length)
    if abs(end["lat2"]) > 84.0:
        return  # beyond what a zone may reach
    path = [(lat, lon), (end["lat2"], wrap(end["lon2"]))]
    crossing = LineCrossing(shape_from_geometry(corridor(path, 10.0), "zone.geometry"))
    leg = G.Line(lat, lon, bearing)
    ends = []
    for fraction, offset in zip(along, across, strict=True):
        foot = leg.Position(fraction * length)
        p = G.Direct(foot["lat2"], foot["lon2"], foot["azi2"] + 90.0, offset)
        ends.append((p["lat2"], wrap(p["lon2"])))
    (lat0, lon0), (lat1, lon1) = ends
    changed_sides = (across[0] > 0) != (across[1] > 0)
    assert crossing.crossings(lat0, lon0, lat1, lon1) % 2 == changed_sides
