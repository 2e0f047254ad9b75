"""SEPARATION_BREACH and PREDICTED_CONFLICT: once per pair per episode, prediction first."""

from __future__ import annotations

import pytest
from geographiclib.geodesic import Geodesic  # type: ignore[import-untyped]  # no stubs
from server.deconfliction.scenario import DEIR_EZZOR, GROUND, T0, K, kinds, unit

from hotline.server.deconfliction import DeconflictionEngine, Finding, SeparationMinima

G = Geodesic.WGS84


def _head_on(
    engine: DeconflictionEngine,
    *,
    parties: tuple[str, str] = ("BLUE", "RED"),
    reports: int = 55,
    altitudes: tuple[float, float] = (6_000.0, 6_100.0),
) -> list[tuple[float, Finding]]:
    """Two aircraft 120 km apart flying straight at each other at 220 m/s each along
    the parallel through Deir Ezzor, both reporting every 6 s."""
    west = G.Direct(*DEIR_EZZOR, 270.0, 60_000.0)
    east = G.Direct(*DEIR_EZZOR, 90.0, 60_000.0)
    to_east = G.InverseLine(west["lat2"], west["lon2"], east["lat2"], east["lon2"])
    to_west = G.InverseLine(east["lat2"], east["lon2"], west["lat2"], west["lon2"])
    out: list[tuple[float, Finding]] = []
    for i in range(reports):
        t = T0 + 6.0 * i
        for name, party, line, altitude in (
            ("EAGLE", parties[0], to_east, altitudes[0]),
            ("FLANKER", parties[1], to_west, altitudes[1]),
        ):
            p = line.Position(220.0 * 6.0 * i, G.STANDARD)
            course = p["azi2"] % 360.0
            report = unit(
                name,
                (p["lat2"], p["lon2"]),
                t,
                altitude_m=altitude,
                course_deg=course,
                speed_mps=220.0,
            )
            out += [(t, f) for f in engine.position_reported(party, report, t)]
    return out


def test_head_on_convergence_predicts_minutes_before_the_breach(
    engine: DeconflictionEngine,
) -> None:
    findings = _head_on(engine)
    assert kinds([f for _, f in findings]) == ["PREDICTED_CONFLICT", "SEPARATION_BREACH"]
    (predicted_at, predicted), (breached_at, breach) = findings
    # Closing at 440 m/s from 120 km: CPA at 273 s, inside the 300 s look-ahead from the
    # first reports; the 5,556 m minimum is crossed some 12 s before the CPA.
    assert predicted_at == T0
    assert predicted.alert.time_to_cpa_s == pytest.approx(272.7, abs=2.0)
    assert predicted.alert.distance_m < 100.0
    assert breached_at - predicted_at > 240.0
    assert breach.alert.distance_m < 5_556.0
    for finding in (predicted, breach):
        assert set(finding.parties) == {"BLUE", "RED"}
        assert sorted(finding.alert.unit_ids) == ["EAGLE", "FLANKER"]
        assert finding.domain == 1  # AIR: the air operations hotline
    assert abs(predicted.alert.location.longitude - DEIR_EZZOR[1]) < 0.05


def test_breach_distance_is_the_geodesic(engine: DeconflictionEngine) -> None:
    engine.position_reported("BLUE", unit("EAGLE", DEIR_EZZOR, T0), T0)
    near = G.Direct(*DEIR_EZZOR, 40.0, 5_000.0)
    (finding,) = engine.position_reported(
        "RED", unit("FLANKER", (near["lat2"], near["lon2"]), T0), T0
    )
    assert finding.alert.kind == K.ALERT_KIND_SEPARATION_BREACH
    assert finding.alert.distance_m == pytest.approx(5_000.0, abs=1.0)


def test_no_alerts_within_one_party_or_with_vertical_separation(
    engine: DeconflictionEngine,
) -> None:
    assert _head_on(engine, parties=("BLUE", "BLUE")) == []
    other = DeconflictionEngine()
    assert _head_on(other, altitudes=(6_000.0, 6_300.0)) == []


def test_the_episode_ends_when_they_separate_and_re_arms(engine: DeconflictionEngine) -> None:
    engine.position_reported("BLUE", unit("EAGLE", DEIR_EZZOR, T0), T0)
    near = G.Direct(*DEIR_EZZOR, 0.0, 4_000.0)
    far = G.Direct(*DEIR_EZZOR, 0.0, 8_000.0)
    steps = [near, near, far, near]
    found = []
    for i, p in enumerate(steps):
        t = T0 + 5.0 * (i + 1)
        engine.position_reported("BLUE", unit("EAGLE", DEIR_EZZOR, t), t)
        found.append(
            kinds(engine.position_reported("RED", unit("FLANKER", (p["lat2"], p["lon2"]), t), t))
        )
    assert found == [["SEPARATION_BREACH"], [], [], ["SEPARATION_BREACH"]]


def test_a_pair_hovering_at_the_minimum_does_not_flap(engine: DeconflictionEngine) -> None:
    found = []
    for i, distance in enumerate([5_500.0, 5_600.0, 5_500.0, 5_600.0]):
        t = T0 + 5.0 * i
        p = G.Direct(*DEIR_EZZOR, 0.0, distance)
        engine.position_reported("BLUE", unit("EAGLE", DEIR_EZZOR, t), t)
        found += kinds(
            engine.position_reported("RED", unit("FLANKER", (p["lat2"], p["lon2"]), t), t)
        )
    assert found == ["SEPARATION_BREACH"]


def test_stale_tracks_are_not_predicted(engine: DeconflictionEngine) -> None:
    # FLANKER last reported 90 s ago heading for EAGLE; with a 60 s staleness it is not
    # extrapolated, so no prediction; with 120 s it is.
    west = G.Direct(*DEIR_EZZOR, 270.0, 60_000.0)
    flanker = unit(
        "FLANKER", (west["lat2"], west["lon2"]), T0 - 90, course_deg=90.0, speed_mps=250.0
    )
    eagle = unit("EAGLE", DEIR_EZZOR, T0, course_deg=270.0, speed_mps=150.0)
    engine.position_reported("RED", flanker, T0 - 90)
    assert engine.position_reported("BLUE", eagle, T0) == []
    patient = DeconflictionEngine(SeparationMinima(stale_after_s=120.0))
    patient.position_reported("RED", flanker, T0 - 90)
    assert kinds(patient.position_reported("BLUE", eagle, T0)) == ["PREDICTED_CONFLICT"]


def test_ground_units_are_separated_at_one_kilometre(engine: DeconflictionEngine) -> None:
    engine.position_reported(
        "BLUE", unit("M2", DEIR_EZZOR, T0, domain=GROUND, altitude_m=200.0), T0
    )
    for distance, expected in ((1_200.0, []), (900.0, ["SEPARATION_BREACH"])):
        p = G.Direct(*DEIR_EZZOR, 120.0, distance)
        tank = unit("T-72", (p["lat2"], p["lon2"]), T0, domain=GROUND, altitude_m=250.0)
        assert kinds(engine.position_reported("RED", tank, T0)) == expected


def test_aircraft_and_ground_units_are_not_paired(engine: DeconflictionEngine) -> None:
    engine.position_reported(
        "BLUE", unit("M2", DEIR_EZZOR, T0, domain=GROUND, altitude_m=200.0), T0
    )
    assert engine.position_reported("RED", unit("MI-8", DEIR_EZZOR, T0, altitude_m=250.0), T0) == []


def test_minima_are_configurable() -> None:
    engine = DeconflictionEngine(SeparationMinima(ground_m=2_000.0))
    engine.position_reported("BLUE", unit("M2", DEIR_EZZOR, T0, domain=GROUND), T0)
    p = G.Direct(*DEIR_EZZOR, 120.0, 1_500.0)
    tank = unit("T-72", (p["lat2"], p["lon2"]), T0, domain=GROUND)
    assert kinds(engine.position_reported("RED", tank, T0)) == ["SEPARATION_BREACH"]


def test_a_report_older_than_the_last_is_ignored(engine: DeconflictionEngine) -> None:
    engine.position_reported("BLUE", unit("EAGLE", DEIR_EZZOR, T0), T0)
    engine.position_reported("RED", unit("FLANKER", (36.0, 41.0), T0), T0)
    late = unit("FLANKER", DEIR_EZZOR, T0 - 30)
    assert engine.position_reported("RED", late, T0) == []
    (red,) = engine.picture(T0).units["RED"]
    assert red.position.latitude == 36.0


def test_replaying_the_same_calls_gives_the_same_findings() -> None:
    first = [(t, f.alert.SerializeToString()) for t, f in _head_on(DeconflictionEngine())]
    second = [(t, f.alert.SerializeToString()) for t, f in _head_on(DeconflictionEngine())]
    assert first == second
