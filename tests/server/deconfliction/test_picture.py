"""The current picture: zones in force, last known units, open alerts."""

from __future__ import annotations

from server.deconfliction.scenario import DEIR_EZZOR, GROUND, T0, K, circle, unit, zone

from hotline.server.deconfliction import DeconflictionEngine
from hotline.v1 import zones_pb2


def test_picture_shows_zones_units_and_open_alerts(engine: DeconflictionEngine) -> None:
    engine.zone_changed(zone("ROZ-NOW", circle(DEIR_EZZOR, 10_000.0)), T0)
    engine.zone_changed(
        zone("ROZ-LATER", circle((34.0, 38.0), 5_000.0), window=(T0 + 3600, T0 + 7200)), T0
    )
    engine.zone_changed(
        zone("ROZ-ASKED", circle((34.0, 39.0), 5_000.0), state=zones_pb2.ZONE_STATE_PROPOSED), T0
    )
    (incursion,) = engine.position_reported("RED", unit("SU-24", DEIR_EZZOR, T0), T0)
    incursion.alert.alert_id = "A-1"  # assigned by the caller
    engine.position_reported("BLUE", unit("M2", (35.0, 40.5), T0, domain=GROUND), T0)

    picture = engine.picture(T0 + 30)
    assert [z.zone_id for z in picture.active_zones] == ["ROZ-NOW"]
    assert [z.zone_id for z in picture.accepted_zones] == ["ROZ-LATER", "ROZ-NOW"]
    assert [z.zone_id for z in picture.proposed_zones] == ["ROZ-ASKED"]
    assert {
        party: [u.position.unit_id for u in units] for party, units in picture.units.items()
    } == {
        "BLUE": ["M2"],
        "RED": ["SU-24"],
    }
    assert [a.alert_id for a in picture.open_alerts] == ["A-1"]
    assert picture.open_alerts[0].kind == K.ALERT_KIND_ZONE_INCURSION
    assert not picture.units["RED"][0].stale
    assert engine.picture(T0 + 61).units["RED"][0].stale
