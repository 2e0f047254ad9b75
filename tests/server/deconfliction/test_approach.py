"""Closest approach on the ellipsoid: each unit holds its course and speed along its
geodesic; time and distance agree with a GeographicLib reference (a golden-section
search of the geodesic distance over the look-ahead) within 1 s and within 1 % or 50 m,
whichever is larger - near the poles and across the antimeridian too."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import example, given, settings
from hypothesis import strategies as st
from server.deconfliction.reference import G, minimise, wrap
from server.deconfliction.scenario import K, unit

from hotline.server.deconfliction import DeconflictionEngine
from hotline.server.deconfliction.approach import Mover, closest_approach

LOOK_AHEAD_S = 300.0
NOW = 1_700_000_000.0

latitudes = st.floats(-84.0, 84.0)
longitudes = st.floats(-180.0, 180.0)
courses = st.floats(0.0, 360.0, exclude_max=True)
speeds = st.floats(0.0, 600.0)


def reference(
    a: tuple[float, float, float, float], b: tuple[float, float, float, float]
) -> tuple[float, float, Callable[[float], float]]:
    """(time, distance) of the closest approach over the look-ahead by GeographicLib,
    and the distance at any time."""
    line_a = G.Line(a[0], a[1], a[2])
    line_b = G.Line(b[0], b[1], b[2])

    def apart(t: float) -> float:
        pa = line_a.Position(a[3] * t)
        pb = line_b.Position(b[3] * t)
        return float(G.Inverse(pa["lat2"], pa["lon2"], pb["lat2"], pb["lon2"])["s12"])

    t = minimise(apart, 0.0, LOOK_AHEAD_S, 0.01)
    # The ends are candidates too (a pair diverging from the start, or still closing).
    t, d = min(
        ((t, apart(t)), (0.0, apart(0.0)), (LOOK_AHEAD_S, apart(LOOK_AHEAD_S))), key=lambda x: x[1]
    )
    return t, d, apart


@settings(max_examples=150, deadline=None)
@given(
    start=st.tuples(latitudes, longitudes),
    course_a=courses,
    speed_a=speeds,
    offset=st.tuples(courses, st.floats(0.0, 150_000.0)),
    course_b=courses,
    speed_b=speeds,
)
@example(  # the case: 420 m/s east at 35 N, a hovering aircraft 125 km ahead, 5 km right
    start=(35.0, 40.0),
    course_a=90.0,
    speed_a=420.0,
    offset=(92.29, 125_100.0),
    course_b=0.0,
    speed_b=0.0,
)
@example(  # over the antimeridian, head on
    start=(-20.0, 179.8),
    course_a=90.0,
    speed_a=300.0,
    offset=(90.0, 60_000.0),
    course_b=270.0,
    speed_b=300.0,
)
@example(  # near the pole, crossing
    start=(83.5, 10.0),
    course_a=0.0,
    speed_a=250.0,
    offset=(45.0, 40_000.0),
    course_b=270.0,
    speed_b=250.0,
)
def test_the_closest_approach_agrees_with_geographiclib(
    *,
    start: tuple[float, float],
    course_a: float,
    speed_a: float,
    offset: tuple[float, float],
    course_b: float,
    speed_b: float,
) -> None:
    lat, lon = start
    there = G.Direct(lat, lon, offset[0], offset[1])
    lat_b, lon_b = there["lat2"], wrap(there["lon2"])
    t, d, apart = reference((lat, lon, course_a, speed_a), (lat_b, lon_b, course_b, speed_b))
    found = closest_approach(
        Mover(lat, lon, course_a, speed_a, NOW),
        Mover(lat_b, lon_b, course_b, speed_b, NOW),
        NOW,
        LOOK_AHEAD_S,
    )
    if found.time_s <= LOOK_AHEAD_S:
        assert abs(found.distance_m - d) <= max(0.01 * d, 50.0), (found, t, d)
    # Where the distance hardly changes (units almost abreast, or flying alike) the time
    # of its minimum is not defined to a second; the distance then is.
    within = min(found.time_s, LOOK_AHEAD_S)
    assert abs(within - t) <= 1.0 or abs(apart(within) - d) < 0.5, (found, t, d)


MINIMUM_M = 5556.0


@settings(max_examples=150, deadline=None)
@given(
    start=st.tuples(st.floats(-84.0, 84.0), longitudes),
    course_a=courses,
    speed_a=st.floats(0.0, 450.0),
    ahead=st.tuples(st.floats(0.0, 300.0), st.floats(-9_000.0, 9_000.0)),
    course_b=courses,
    speed_b=st.sampled_from([0.0, 30.0]) | st.floats(0.0, 450.0),
    crowded=st.booleans(),
)
@example(  # the case: 5,000 m right of the geodesic is inside the minimum
    start=(35.0, 40.0),
    course_a=90.0,
    speed_a=420.0,
    ahead=(125_000.0 / 420.0, 5_000.0),
    course_b=0.0,
    speed_b=0.0,
    crowded=False,
)
@example(  # the same at 60 N, on the left
    start=(60.0, 40.0),
    course_a=90.0,
    speed_a=420.0,
    ahead=(125_000.0 / 420.0, -5_000.0),
    course_b=0.0,
    speed_b=0.0,
    crowded=True,
)
def test_the_engine_predicts_a_conflict_exactly_when_the_geodesic_approach_is_too_close(
    *,
    start: tuple[float, float],
    course_a: float,
    speed_a: float,
    ahead: tuple[float, float],
    course_b: float,
    speed_b: float,
    crowded: bool,
) -> None:
    # B starts near where A's geodesic takes it after ahead[0] seconds, ahead[1] metres
    # to its right.
    lat, lon = start
    on_track = G.Direct(lat, lon, course_a, speed_a * ahead[0])
    there = G.Direct(on_track["lat2"], on_track["lon2"], on_track["azi2"] + 90.0, ahead[1])
    lat_b, lon_b = there["lat2"], wrap(there["lon2"])
    if abs(lat_b) > 85.0:
        return
    t, d, apart = reference((lat, lon, course_a, speed_a), (lat_b, lon_b, course_b, speed_b))
    engine = DeconflictionEngine()
    if crowded:  # enough other aircraft at that altitude for the screen to batch them
        for i in range(40):
            far = (wrap(lon + 180.0), -lat / 2.0 + i / 100.0)
            engine.position_reported("BLUE", unit(f"F{i}", (far[1], far[0]), NOW), NOW)
    engine.position_reported(
        "BLUE", unit("A", (lat, lon), NOW, course_deg=course_a, speed_mps=speed_a), NOW
    )
    findings = engine.position_reported(
        "RED", unit("B", (lat_b, lon_b), NOW, course_deg=course_b, speed_mps=speed_b), NOW
    )
    predicted = [f.alert for f in findings if f.alert.kind == K.ALERT_KIND_PREDICTED_CONFLICT]
    tolerance = max(0.01 * d, 50.0)
    if apart(0.0) < MINIMUM_M + 1.0:
        return  # already in breach: the breach alert covers the conflict
    if 1.0 < t < LOOK_AHEAD_S - 1.0 and d < MINIMUM_M - tolerance:
        (alert,) = predicted
        assert abs(alert.distance_m - d) <= tolerance
        assert abs(alert.time_to_cpa_s - t) <= 1.0 or abs(alert.distance_m - d) < 0.5
    elif d > MINIMUM_M + tolerance or t == 0.0:
        assert not predicted
