"""ZONE_OVERLAP: a proposal sharing area, altitude and time with another party's zone."""

from __future__ import annotations

from server.deconfliction.scenario import DEIR_EZZOR, T0, K, circle, kinds, polygon, zone

from hotline.server.deconfliction import DeconflictionEngine
from hotline.v1 import zones_pb2

PROPOSED = zones_pb2.ZONE_STATE_PROPOSED
BLUE_ROZ = zone(
    "ROZ-BLUE", circle(DEIR_EZZOR, 15_000.0), band=(0.0, 6_000.0), window=(T0, T0 + 7200)
)


def _red(geometry: zones_pb2.Geometry, **kwargs: object) -> zones_pb2.Zone:
    return zone("ROZ-RED", geometry, owner="RED", state=PROPOSED, **kwargs)  # type: ignore[arg-type]


def test_overlapping_proposal_against_an_accepted_zone(engine: DeconflictionEngine) -> None:
    engine.zone_changed(BLUE_ROZ, T0)
    red = _red(
        circle((35.40, 40.25), 10_000.0), band=(3_000.0, 9_000.0), window=(T0 + 3600, T0 + 9000)
    )
    (finding,) = engine.zone_changed(red, T0)
    assert finding.alert.kind == K.ALERT_KIND_ZONE_OVERLAP
    assert list(finding.alert.zone_ids) == ["ROZ-RED", "ROZ-BLUE"]
    assert set(finding.parties) == {"RED", "BLUE"}
    assert "accepted" in finding.alert.summary


def test_two_overlapping_proposals(engine: DeconflictionEngine) -> None:
    blue = zone("ROZ-BLUE", circle(DEIR_EZZOR, 15_000.0), state=PROPOSED)
    assert engine.zone_changed(blue, T0) == []
    (finding,) = engine.zone_changed(_red(circle((35.40, 40.25), 10_000.0)), T0)
    assert "proposed" in finding.alert.summary


def test_apart_in_space_altitude_or_time_is_no_overlap(engine: DeconflictionEngine) -> None:
    engine.zone_changed(BLUE_ROZ, T0)
    far = _red(circle((34.0, 38.0), 10_000.0))
    above = _red(circle(DEIR_EZZOR, 10_000.0), band=(6_000.0, 9_000.0))  # touching bands
    later = _red(circle(DEIR_EZZOR, 10_000.0), window=(T0 + 7200, T0 + 9000))
    for proposal in (far, above, later):
        assert engine.zone_changed(proposal, T0) == []


def test_own_zones_and_earlier_versions_do_not_count(engine: DeconflictionEngine) -> None:
    engine.zone_changed(BLUE_ROZ, T0)
    own = zone("ROZ-BLUE-2", circle(DEIR_EZZOR, 5_000.0), state=PROPOSED)
    assert engine.zone_changed(own, T0) == []
    new_version = zone("ROZ-BLUE", circle(DEIR_EZZOR, 20_000.0), state=PROPOSED, version=2)
    assert engine.zone_changed(new_version, T0) == []


def test_overlap_across_the_antimeridian(engine: DeconflictionEngine) -> None:
    square = [(-16.0, 179.5), (-16.0, -179.5), (-18.0, -179.5), (-18.0, 179.5)]
    engine.zone_changed(zone("ROZ-BLUE", polygon(square)), T0)
    assert kinds(engine.zone_changed(_red(circle((-17.0, -179.8), 5_000.0)), T0)) == [
        "ZONE_OVERLAP"
    ]
