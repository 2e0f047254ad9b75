"""NOTICE_CONFLICT: friendly forces or measures in the area of an activity notice."""

from __future__ import annotations

from geographiclib.geodesic import Geodesic  # type: ignore[import-untyped]  # no stubs
from server.deconfliction.scenario import (
    GROUND,
    KHASHAM,
    T0,
    K,
    circle,
    kinds,
    notice,
    polygon,
    unit,
    zone,
)

from hotline.server.deconfliction import DeconflictionEngine, Finding, SeparationMinima
from hotline.v1 import common_pb2, messages_pb2, zones_pb2

G = Geodesic.WGS84
STRIKE = messages_pb2.ACTIVITY_TYPE_STRIKE
FLIGHT = messages_pb2.ACTIVITY_TYPE_FLIGHT
# East of the Euphrates around the Conoco field: the strike box of the scenario.
STRIKE_BOX = polygon([(35.24, 40.20), (35.24, 40.32), (35.34, 40.32), (35.34, 40.20)])
WINDOW = (T0 + 600, T0 + 2400)


def _blue_ground_units_east_of_the_euphrates(engine: DeconflictionEngine) -> None:
    for i, bearing in enumerate((0.0, 120.0, 240.0)):
        p = G.Direct(*KHASHAM, bearing, 2_000.0)
        sdf = unit(f"SDF-{i}", (p["lat2"], p["lon2"]), T0, domain=GROUND, altitude_m=220.0)
        engine.position_reported("BLUE", sdf, T0)
    # And one well west of the river, outside the strike box.
    engine.position_reported("BLUE", unit("SDF-W", (35.10, 39.60), T0, domain=GROUND), T0)


def test_strike_over_blue_ground_units_east_of_the_euphrates(engine: DeconflictionEngine) -> None:
    _blue_ground_units_east_of_the_euphrates(engine)
    (finding,) = engine.notice_sent("RED", notice(STRIKE, STRIKE_BOX, WINDOW), T0)
    assert finding.alert.kind == K.ALERT_KIND_NOTICE_CONFLICT
    assert sorted(finding.alert.unit_ids) == ["SDF-0", "SDF-1", "SDF-2"]
    assert set(finding.parties) == {"RED", "BLUE"}
    assert finding.domain == common_pb2.DOMAIN_GROUND  # the ground commanders' hotline
    assert "STRIKE" in finding.alert.summary
    assert "3 BLUE unit(s)" in finding.alert.summary


def test_strike_over_a_blue_no_fire_area(engine: DeconflictionEngine) -> None:
    nfa = zone("NFA-CONOCO", circle(KHASHAM, 3_000.0), kind=zones_pb2.ZONE_KIND_NO_FIRE_AREA)
    engine.zone_changed(nfa, T0)
    (finding,) = engine.notice_sent("RED", notice(STRIKE, STRIKE_BOX, WINDOW), T0)
    assert list(finding.alert.zone_ids) == ["NFA-CONOCO"]
    assert list(finding.alert.unit_ids) == []
    # A fire restriction belongs to no one domain: the hotline the notice came on.
    assert finding.domain == common_pb2.DOMAIN_UNSPECIFIED


def test_a_strike_over_aircraft_ground_units_and_airspace_warns_each_hotline(
    engine: DeconflictionEngine,
) -> None:
    _blue_ground_units_east_of_the_euphrates(engine)
    engine.position_reported("BLUE", unit("REAPER", KHASHAM, T0, altitude_m=7_000.0), T0)
    roz = zone("ROZ-CONOCO", circle(KHASHAM, 3_000.0))
    engine.zone_changed(roz, T0)
    air, ground = engine.notice_sent("RED", notice(STRIKE, STRIKE_BOX, WINDOW), T0)
    assert air.domain == common_pb2.DOMAIN_AIR
    assert (list(air.alert.unit_ids), list(air.alert.zone_ids)) == (["REAPER"], ["ROZ-CONOCO"])
    assert "1 BLUE unit(s) (REAPER) and BLUE zone(s) ROZ-CONOCO" in air.alert.summary
    assert ground.domain == common_pb2.DOMAIN_GROUND
    assert sorted(ground.alert.unit_ids) == ["SDF-0", "SDF-1", "SDF-2"]
    assert list(ground.alert.zone_ids) == []
    assert set(air.parties) == set(ground.parties) == {"RED", "BLUE"}


def test_own_units_zones_elsewhere_or_other_times_raise_nothing(
    engine: DeconflictionEngine,
) -> None:
    _blue_ground_units_east_of_the_euphrates(engine)
    # BLUE notifying its own strike: its own units are not "the recipient's".
    assert engine.notice_sent("BLUE", notice(STRIKE, STRIKE_BOX, WINDOW), T0) == []
    # A window already over: units seen now are no evidence.
    assert engine.notice_sent("RED", notice(STRIKE, STRIKE_BOX, (T0 - 600, T0 - 60)), T0) == []
    # An NFA only in force after the window.
    later = zone(
        "NFA-LATER",
        circle(KHASHAM, 3_000.0),
        kind=zones_pb2.ZONE_KIND_NO_FIRE_AREA,
        window=(T0 + 3600, T0 + 7200),
    )
    engine.zone_changed(later, T0)
    (finding,) = engine.notice_sent("RED", notice(STRIKE, STRIKE_BOX, WINDOW), T0)
    assert list(finding.alert.zone_ids) == []


def test_flight_notice_concerns_aircraft_and_airspace_only(engine: DeconflictionEngine) -> None:
    _blue_ground_units_east_of_the_euphrates(engine)
    assert (
        engine.notice_sent("RED", notice(FLIGHT, STRIKE_BOX, WINDOW, band=(3_000.0, 6_000.0)), T0)
        == []
    )
    engine.position_reported("BLUE", unit("REAPER", KHASHAM, T0, altitude_m=7_000.0), T0)
    assert (
        engine.notice_sent("RED", notice(FLIGHT, STRIKE_BOX, WINDOW, band=(3_000.0, 6_000.0)), T0)
        == []
    )
    found = engine.notice_sent(
        "RED", notice(FLIGHT, STRIKE_BOX, WINDOW, band=(6_000.0, 8_000.0)), T0
    )
    assert kinds(found) == ["NOTICE_CONFLICT"]
    assert list(found[0].alert.unit_ids) == ["REAPER"]
    assert found[0].domain == common_pb2.DOMAIN_AIR


# ---------------------------------------------------------------------- mismatch


def _mismatches(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.alert.kind == K.ALERT_KIND_NOTICE_MISMATCH]


def test_a_strike_far_from_every_unit_of_the_notifier_cues_exercise_control(
    engine: DeconflictionEngine,
) -> None:
    # RED's only aircraft orbits west of the river, some 50 km from the strike box it
    # pre-notifies, and heads away from it.
    engine.position_reported(
        "RED",
        unit("FENCER-1", (35.30, 39.70), T0, course_deg=270.0, speed_mps=200.0),
        T0,
    )
    (mismatch,) = _mismatches(engine.notice_sent("RED", notice(STRIKE, STRIKE_BOX, WINDOW), T0))
    assert mismatch.parties == ()  # exercise control alone
    assert mismatch.domain == common_pb2.DOMAIN_UNSPECIFIED  # the notice's own hotline
    alert = mismatch.alert
    assert list(alert.unit_ids) == ["FENCER-1"]
    assert list(alert.parties) == ["RED"]
    # The box's western edge is the meridian of 40.20 E.
    assert abs(alert.distance_m - G.Inverse(35.30, 39.70, 35.30, 40.20)["s12"]) < 1.0
    assert (
        f"STRIKE notice from RED is {alert.distance_m / 1000:.1f} km from the nearest of its "
        "1 unit(s) concerned (RED aircraft FENCER-1)"
    ) in alert.summary


def test_a_strike_the_notifier_is_flying_to_raises_no_mismatch(
    engine: DeconflictionEngine,
) -> None:
    # The same aircraft heading east at 200 m/s reaches the box in about 4 minutes,
    # before the window opens.
    engine.position_reported(
        "RED",
        unit("FENCER-1", (35.30, 39.70), T0, course_deg=90.0, speed_mps=200.0),
        T0,
    )
    assert not _mismatches(engine.notice_sent("RED", notice(STRIKE, STRIKE_BOX, WINDOW), T0))


def test_a_mismatch_needs_units_of_the_kind_the_activity_involves(
    engine: DeconflictionEngine,
) -> None:
    # No RED unit at all: nothing to compare with.
    assert not _mismatches(engine.notice_sent("RED", notice(STRIKE, STRIKE_BOX, WINDOW), T0))
    # A RED ground unit 9 km from the box is near enough for a strike (10 km) ...
    p = G.Direct(35.30, 40.20, 270.0, 9_000.0)
    engine.position_reported("RED", unit("T-90", (p["lat2"], p["lon2"]), T0, domain=GROUND), T0)
    assert not _mismatches(engine.notice_sent("RED", notice(STRIKE, STRIKE_BOX, WINDOW), T0))
    # ... but a flight concerns RED's aircraft, and it has none there.
    engine.position_reported("RED", unit("FENCER-1", (34.00, 38.00), T0), T0)
    (mismatch,) = _mismatches(engine.notice_sent("RED", notice(FLIGHT, STRIKE_BOX, WINDOW), T0))
    assert list(mismatch.alert.unit_ids) == ["FENCER-1"]


def test_the_mismatch_distance_is_the_exercise_policy(engine: DeconflictionEngine) -> None:
    strict = DeconflictionEngine(SeparationMinima(notice_mismatch_m=5_000.0))
    p = G.Direct(35.30, 40.20, 270.0, 9_000.0)
    for e in (engine, strict):
        e.position_reported("RED", unit("T-90", (p["lat2"], p["lon2"]), T0, domain=GROUND), T0)
    assert not _mismatches(engine.notice_sent("RED", notice(STRIKE, STRIKE_BOX, WINDOW), T0))
    assert _mismatches(strict.notice_sent("RED", notice(STRIKE, STRIKE_BOX, WINDOW), T0))
