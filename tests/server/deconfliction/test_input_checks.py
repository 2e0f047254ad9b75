"""Invalid zones, positions and notices are refused with a message naming the field."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server.deconfliction.scenario import (
    DEIR_EZZOR,
    T0,
    circle,
    corridor,
    notice,
    polygon,
    unit,
    zone,
)

from hotline.server.deconfliction import DeconflictionEngine
from hotline.server.errors import InvalidArgument
from hotline.v1 import messages_pb2, zones_pb2

SQUARE = [(35.0, 40.0), (35.0, 40.2), (35.2, 40.2), (35.2, 40.0)]


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        (
            polygon([(35.0, 40.0), (35.1, 40.1)]),
            "zone.geometry.polygon: fewer than 3 distinct vertices",
        ),
        (
            polygon([(35.0, 40.0), (35.1, 40.1), (35.0, 40.0), (35.1, 40.1)]),
            "zone.geometry.polygon: fewer than 3 distinct vertices",
        ),
        (
            polygon([(35.0, 40.0), (35.2, 40.2), (35.0, 40.2), (35.2, 40.0)]),
            "zone.geometry.polygon: self-intersecting polygon",
        ),
        (
            polygon([(35.0, 40.0), (35.1, 40.0), (35.2, 40.0)]),
            "zone.geometry.polygon: the vertices are collinear",
        ),
        (
            polygon([(91.0, 40.0), (35.1, 40.0), (35.2, 40.1)]),
            "zone.geometry.polygon.vertices[0].latitude: 91.0 is out of range",
        ),
        (
            polygon([(35.0, 40.0), (35.1, 181.0), (35.2, 40.1)]),
            "zone.geometry.polygon.vertices[1].longitude: 181.0 is out of range",
        ),
        (
            polygon([(35.0, 40.0), (35.1, 40.0), (math.nan, 40.1)]),
            "zone.geometry.polygon.vertices[2].latitude: nan is not a finite number",
        ),
        (circle(DEIR_EZZOR, 0.0), "zone.geometry.circle.radius_m: must be positive"),
        (circle(DEIR_EZZOR, -5.0), "zone.geometry.circle.radius_m: must be positive"),
        (circle(DEIR_EZZOR, math.inf), "zone.geometry.circle.radius_m: inf is not a finite number"),
        (
            corridor([(35.0, 40.0), (35.1, 40.1)], 0.0),
            "zone.geometry.corridor.half_width_m: must be positive",
        ),
        (
            corridor([(35.0, 40.0), (35.0, 40.0)], 100.0),
            "zone.geometry.corridor.path: fewer than 2 distinct points",
        ),
        (zones_pb2.Geometry(), "zone.geometry: one of polygon, circle or corridor is required"),
    ],
)
def test_invalid_geometry(
    engine: DeconflictionEngine, geometry: zones_pb2.Geometry, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("[", r"\[").replace("]", r"\]")):
        engine.validate_zone(zone("Z", geometry))


def test_floor_not_below_ceiling(engine: DeconflictionEngine) -> None:
    with pytest.raises(InvalidArgument, match=r"zone\.altitude: floor_m \(3000.0\) must be below"):
        engine.validate_zone(zone("Z", polygon(SQUARE), band=(3000.0, 3000.0)))


def test_until_not_after_from(engine: DeconflictionEngine) -> None:
    with pytest.raises(
        InvalidArgument, match=r"zone\.effective_until: must be after effective_from"
    ):
        engine.validate_zone(zone("Z", polygon(SQUARE), window=(T0, T0)))


def test_kind_is_required(engine: DeconflictionEngine) -> None:
    with pytest.raises(InvalidArgument, match=r"zone\.kind: required"):
        engine.validate_zone(zone("Z", polygon(SQUARE), kind=zones_pb2.ZONE_KIND_UNSPECIFIED))


def test_a_valid_zone_passes(engine: DeconflictionEngine) -> None:
    engine.validate_zone(zone("Z", polygon(SQUARE), band=(0.0, 3000.0), window=(T0, T0 + 60)))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("latitude", -90.5, r"unit\.latitude: -90.5 is out of range \[-90, 90\]"),
        ("longitude", math.nan, r"unit\.longitude: nan is not a finite number"),
        ("speed_mps", -1.0, r"unit\.speed_mps: -1.0 is not in \[0, "),
        ("course_deg", 360.0, r"unit\.course_deg: 360.0 is not in \[0, 360\)"),
        ("course_deg", -0.5, r"unit\.course_deg: -0.5 is not in \[0, 360\)"),
        ("altitude_m", math.inf, r"unit\.altitude_m: inf is not a finite number"),
        ("accuracy_m", -3.0, r"unit\.accuracy_m: -3.0 must be a number >= 0"),
        ("domain", 0, r"unit\.domain: must be AIR, GROUND or SEA"),
        ("unit_id", "", r"unit\.unit_id: required"),
    ],
)
def test_invalid_position(
    engine: DeconflictionEngine, field: str, value: object, message: str
) -> None:
    position = unit("R1", DEIR_EZZOR, T0)
    setattr(position, field, value)
    with pytest.raises(InvalidArgument, match=message):
        engine.validate_position(position)
    with pytest.raises(InvalidArgument, match=message):
        engine.position_reported("RED", position, T0)


def test_position_needs_an_observation_time(engine: DeconflictionEngine) -> None:
    position = unit("R1", DEIR_EZZOR, T0)
    position.ClearField("observed_at")
    with pytest.raises(InvalidArgument, match=r"unit\.observed_at: required"):
        engine.validate_position(position)


def test_notice_window_must_end_after_it_starts(engine: DeconflictionEngine) -> None:
    bad = notice(messages_pb2.ACTIVITY_TYPE_STRIKE, circle(DEIR_EZZOR, 1000.0), (T0, T0 - 1))
    with pytest.raises(InvalidArgument, match=r"notice\.window_end: must be after window_start"):
        engine.validate_notice(bad)


def test_notice_area_is_checked(engine: DeconflictionEngine) -> None:
    bad = notice(messages_pb2.ACTIVITY_TYPE_STRIKE, circle(DEIR_EZZOR, -1.0), (T0, T0 + 60))
    with pytest.raises(InvalidArgument, match=r"notice\.area\.circle\.radius_m: must be positive"):
        engine.validate_notice(bad)


def test_notice_activity_is_required(engine: DeconflictionEngine) -> None:
    bad = notice(messages_pb2.ACTIVITY_TYPE_UNSPECIFIED, circle(DEIR_EZZOR, 10.0), (T0, T0 + 60))
    with pytest.raises(InvalidArgument, match=r"notice\.activity: required"):
        engine.validate_notice(bad)


def _refusal(call: Callable[[], object]) -> str:
    """The InvalidArgument message of the call, or "ok"; any other exception propagates."""
    try:
        call()
    except InvalidArgument as refused:
        return refused.message
    return "ok"


anything = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-200.0, 200.0)
points = st.tuples(anything, anything)
geometries = st.one_of(
    st.lists(points, max_size=8).map(polygon),
    st.tuples(points, anything).map(lambda a: circle(a[0], a[1])),
    st.tuples(st.lists(points, max_size=5), anything).map(lambda a: corridor(a[0], a[1])),
    st.just(zones_pb2.Geometry()),
)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(geometries, st.tuples(anything, anything), st.tuples(anything, anything))
def test_validation_never_fails_otherwise_than_with_invalid_argument(
    geometry: zones_pb2.Geometry, band: tuple[float, float], window: tuple[float, float]
) -> None:
    engine = DeconflictionEngine()
    candidate = zone("Z", geometry, band=band)
    if all(math.isfinite(t) and abs(t) < 1e10 for t in window):
        candidate.effective_from.FromNanoseconds(int(window[0] * 1e9))
        candidate.effective_until.FromNanoseconds(int(window[1] * 1e9))
    assert _refusal(lambda: engine.validate_zone(candidate)).startswith(("zone.", "ok"))
    strike = notice(messages_pb2.ACTIVITY_TYPE_STRIKE, geometry, (T0, T0 + 60))
    assert _refusal(lambda: engine.validate_notice(strike)).startswith(("notice.", "ok"))


@given(anything, anything, anything, anything, anything)
def test_position_validation_never_fails_otherwise(
    lat: float, lon: float, altitude: float, course: float, speed: float
) -> None:
    engine = DeconflictionEngine()
    position = unit("R1", (lat, lon), T0, altitude_m=altitude, course_deg=course, speed_mps=speed)
    assert _refusal(lambda: engine.position_reported("RED", position, T0)).startswith(
        ("unit.", "ok")
    )
