"""ZONE_INCURSION once on entry, ZONE_INCURSION_CLEARED once on exit, nothing in between."""

from __future__ import annotations

from geographiclib.geodesic import Geodesic  # type: ignore[import-untyped]  # no stubs
from server.deconfliction.scenario import (
    DEIR_EZZOR,
    EUPHRATES,
    GROUND,
    T0,
    K,
    circle,
    corridor,
    kinds,
    unit,
    zone,
)

from hotline.server.deconfliction import DeconflictionEngine
from hotline.v1 import common_pb2, zones_pb2

G = Geodesic.WGS84
ROZ = zone("ROZ-DEZ", circle(DEIR_EZZOR, 10_000.0), band=(1_000.0, 9_000.0))


def _fly_through(engine: DeconflictionEngine, altitude: float = 6_000.0) -> list[list[str]]:
    """A RED aircraft crossing the BLUE ROZ west to east at 200 m/s, reporting every 12 s."""
    start = G.Direct(*DEIR_EZZOR, 270.0, 20_000.0)
    line = G.DirectLine(start["lat2"], start["lon2"], 90.0, 40_000.0)
    out = []
    for i in range(17):
        t = T0 + 12.0 * i
        p = line.Position(200.0 * 12.0 * i)
        report = unit(
            "SU-24",
            (p["lat2"], p["lon2"]),
            t,
            altitude_m=altitude,
            course_deg=90.0,
            speed_mps=200.0,
        )
        out.append(kinds(engine.position_reported("RED", report, t)))
    return out


def test_red_aircraft_through_blue_roz_alerts_on_entry_and_clears_on_exit(
    engine: DeconflictionEngine,
) -> None:
    engine.zone_changed(ROZ, T0)
    per_report = _fly_through(engine)
    # Reports 2.4 km apart from 20 km west of the centre: report 4 is 400 m short of
    # the edge, report 5 inside; report 12 is 1.2 km short of the far edge, 13 past it.
    assert per_report[:5] == [[]] * 5
    assert per_report[5] == ["ZONE_INCURSION"]
    assert per_report[6:13] == [[]] * 7
    assert per_report[13] == ["ZONE_INCURSION_CLEARED"]
    assert per_report[14:] == [[]] * 3


def test_incursion_alert_says_who_where_and_goes_to_both_parties(
    engine: DeconflictionEngine,
) -> None:
    engine.zone_changed(ROZ, T0)
    inside = unit("SU-24", DEIR_EZZOR, T0, altitude_m=5_000.0)
    (finding,) = engine.position_reported("RED", inside, T0)
    assert finding.alert.kind == K.ALERT_KIND_ZONE_INCURSION
    assert finding.domain == common_pb2.DOMAIN_AIR
    assert set(finding.parties) == {"RED", "BLUE"}
    assert list(finding.alert.zone_ids) == ["ROZ-DEZ"]
    assert list(finding.alert.unit_ids) == ["SU-24"]
    assert finding.alert.alert_id == ""
    assert "SU-24" in finding.alert.summary
    assert "ROZ-DEZ" in finding.alert.summary
    assert abs(finding.alert.location.latitude - DEIR_EZZOR[0]) < 1e-9
    assert [a.kind for a in engine.picture(T0).open_alerts] == [K.ALERT_KIND_ZONE_INCURSION]


def test_no_incursion_above_the_band_in_own_zone_or_for_ground_units(
    engine: DeconflictionEngine,
) -> None:
    engine.zone_changed(ROZ, T0)
    assert _fly_through(engine, altitude=9_500.0) == [[]] * 17
    own = unit("F-16", DEIR_EZZOR, T0, altitude_m=5_000.0)
    assert engine.position_reported("BLUE", own, T0) == []
    tank = unit("T-72", DEIR_EZZOR, T0, domain=GROUND, altitude_m=200.0)
    assert engine.position_reported("RED", tank, T0) == []  # a ROZ restricts AIR only


def test_zone_outside_its_window_or_merely_proposed_raises_nothing(
    engine: DeconflictionEngine,
) -> None:
    later = zone("ROZ-LATER", circle(DEIR_EZZOR, 10_000.0), window=(T0 + 3600, T0 + 7200))
    proposed = zone("ROZ-PROP", circle(DEIR_EZZOR, 10_000.0), state=zones_pb2.ZONE_STATE_PROPOSED)
    engine.zone_changed(later, T0)
    engine.zone_changed(proposed, T0)
    assert engine.position_reported("RED", unit("SU-24", DEIR_EZZOR, T0), T0) == []
    assert kinds(
        engine.position_reported("RED", unit("SU-24", DEIR_EZZOR, T0 + 3600), T0 + 3600)
    ) == ["ZONE_INCURSION"]


def test_withdrawing_the_zone_clears_the_incursion(engine: DeconflictionEngine) -> None:
    engine.zone_changed(ROZ, T0)
    engine.position_reported("RED", unit("SU-24", DEIR_EZZOR, T0), T0)
    withdrawn = zone("ROZ-DEZ", circle(DEIR_EZZOR, 10_000.0), state=zones_pb2.ZONE_STATE_WITHDRAWN)
    findings = engine.zone_changed(withdrawn, T0 + 1)
    assert kinds(findings) == ["ZONE_INCURSION_CLEARED"]
    assert "withdrawn" in findings[0].alert.summary
    assert engine.picture(T0 + 1).open_alerts == ()
    assert engine.position_reported("RED", unit("SU-24", DEIR_EZZOR, T0 + 2), T0 + 2) == []


def test_area_of_operations_restricts_ground_units(engine: DeconflictionEngine) -> None:
    ao = zone(
        "AO-EAST", circle((35.29, 40.26), 8_000.0), kind=zones_pb2.ZONE_KIND_AREA_OF_OPERATIONS
    )
    engine.zone_changed(ao, T0)
    tank = unit("T-72", (35.29, 40.26), T0, domain=GROUND, altitude_m=220.0)
    assert kinds(engine.position_reported("RED", tank, T0)) == ["ZONE_INCURSION"]


def test_crossing_the_euphrates_line_between_two_reports(engine: DeconflictionEngine) -> None:
    # A 200 m wide line corridor; a RED column crossing it from west to east between
    # two reports 1 km either side is across until it comes back.
    line = zone(
        "EUPHRATES",
        corridor(EUPHRATES, 100.0),
        kind=zones_pb2.ZONE_KIND_DECONFLICTION_LINE,
    )
    engine.zone_changed(line, T0)
    west = G.Direct(*DEIR_EZZOR, 315.0 - 90.0, 1_000.0)
    east = G.Direct(*DEIR_EZZOR, 315.0 + 90.0, 1_000.0)
    further_east = G.Direct(*DEIR_EZZOR, 315.0 + 90.0, 3_000.0)

    def report(at: dict[str, float], t: float) -> list[str]:
        tank = unit("T-72", (at["lat2"], at["lon2"]), t, domain=GROUND, altitude_m=200.0)
        return kinds(engine.position_reported("RED", tank, t))

    assert report(west, T0) == []
    assert report(east, T0 + 60) == ["ZONE_INCURSION"]
    assert report(further_east, T0 + 120) == []
    assert report(west, T0 + 180) == ["ZONE_INCURSION_CLEARED"]
    # The line binds its owner's units too: a BLUE vehicle crossing west near Al Mayadin.
    leg = G.InverseLine(*EUPHRATES[1], *EUPHRATES[2])
    middle = leg.Position(leg.s13 / 2, G.STANDARD)
    for i, side in enumerate((90.0, -90.0)):
        p = G.Direct(middle["lat2"], middle["lon2"], middle["azi2"] + side, 1_000.0)
        blue = unit("M2", (p["lat2"], p["lon2"]), T0 + 60 * i, domain=GROUND, altitude_m=200.0)
        found = kinds(engine.position_reported("BLUE", blue, T0 + 60 * i))
    assert found == ["ZONE_INCURSION"]


def test_incursion_into_a_zone_across_the_antimeridian(engine: DeconflictionEngine) -> None:
    engine.zone_changed(zone("ROZ-FIJI", circle((-17.0, 179.95), 20_000.0)), T0)
    assert kinds(engine.position_reported("RED", unit("IL-38", (-17.0, -179.95), T0), T0)) == [
        "ZONE_INCURSION"
    ]
    leaving = unit("IL-38", (-17.0, -179.5), T0 + 60)
    assert kinds(engine.position_reported("RED", leaving, T0 + 60)) == ["ZONE_INCURSION_CLEARED"]


def test_an_incursion_is_measured_by_depth_at_entry_deepest_point_and_time_inside(
    engine: DeconflictionEngine,
) -> None:
    engine.zone_changed(ROZ, T0)
    # A RED aircraft 9 km, then 4 km, 2 km (the deepest: 8 km inside the 10 km circle),
    # 6 km from the centre and finally out at 11 km, reporting every 12 s.
    found = []
    for i, from_centre in enumerate((9_000.0, 4_000.0, 2_000.0, 6_000.0, 11_000.0)):
        p = G.Direct(*DEIR_EZZOR, 30.0, from_centre)
        report = unit("SU-24", (p["lat2"], p["lon2"]), T0 + 12.0 * i, altitude_m=6_000.0)
        found.append(engine.position_reported("RED", report, T0 + 12.0 * i))
    (entered,) = found[0]
    depth = entered.alert.incursion
    assert abs(depth.entry_depth_m - 1_000.0) < 1.0
    assert depth.max_depth_m == depth.entry_depth_m
    assert depth.max_depth_at.ToNanoseconds() == int(T0 * 1e9)
    assert depth.duration.ToNanoseconds() == 0
    assert "1000 m inside" in entered.alert.summary
    assert found[1:4] == [[], [], []]
    (cleared,) = found[4]
    assert cleared.alert.kind == K.ALERT_KIND_ZONE_INCURSION_CLEARED
    record = cleared.alert.incursion
    assert abs(record.entry_depth_m - 1_000.0) < 1.0
    assert abs(record.max_depth_m - 8_000.0) < 1.0
    assert record.max_depth_at.ToNanoseconds() == int((T0 + 24.0) * 1e9)
    assert record.duration.ToNanoseconds() == 48 * 10**9
    assert "after 48 s, at most 8000 m inside" in cleared.alert.summary


def test_the_depth_across_a_line_is_the_distance_from_its_centre_line(
    engine: DeconflictionEngine,
) -> None:
    line = zone(
        "EUPHRATES",
        corridor(EUPHRATES, 100.0),
        kind=zones_pb2.ZONE_KIND_DECONFLICTION_LINE,
    )
    engine.zone_changed(line, T0)
    # West of the Deir Ezzor - Al Mayadin leg, then 3 km east of it (across).
    (lat1, lon1), (lat2, lon2) = EUPHRATES[1], EUPHRATES[2]
    leg = G.InverseLine(lat1, lon1, lat2, lon2)
    foot = leg.Position(leg.s13 / 2.0)
    found = []
    for i, across in enumerate((-2_000.0, 3_000.0)):
        p = G.Direct(foot["lat2"], foot["lon2"], foot["azi2"] + 90.0, across)
        report = unit("T-72", (p["lat2"], p["lon2"]), T0 + i, domain=GROUND)
        found.append(engine.position_reported("RED", report, T0 + i))
    assert found[0] == []
    (entered,) = found[1]
    assert abs(entered.alert.incursion.entry_depth_m - 3_000.0) < 1.0
