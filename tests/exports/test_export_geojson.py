"""``hotline export --format geojson``, read back with the ``geojson`` package."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path
from typing import Any

import geojson  # type: ignore[import-untyped]  # ships no type information
import pytest
from exports.recording import (
    INCURSION_AT,
    KILL_BOX,
    KILL_BOX_CENTRE,
    KILL_BOX_RADIUS_M,
    LINE,
    RIVER,
    RIVER_HALF_WIDTH_M,
    ROUTES,
    ROZ,
    ROZ_BAND,
    ROZ_VERTICES,
    Recording,
    exported,
    iso_ms,
)
from geographiclib.geodesic import Geodesic  # type: ignore[import-untyped]  # no stubs
from shapely.geometry import Point, Polygon


@pytest.fixture
def collection(capsys: pytest.CaptureFixture[str], log: Path) -> Any:
    document = geojson.loads(exported(capsys, log, "geojson"))
    assert document.is_valid, document.errors()
    assert document["type"] == "FeatureCollection"
    return document


def features(collection: Any, category: str) -> dict[str, Any]:
    return {f["id"]: f for f in collection["features"] if f["properties"]["category"] == category}


def test_each_track_holds_the_reported_positions_in_order_with_their_times(
    collection: Any, recording: Recording
) -> None:
    tracks = features(collection, "track")
    assert sorted(tracks) == sorted(f"track/{key}" for key in ROUTES)
    for key, route in ROUTES.items():
        track = tracks[f"track/{key}"]
        assert track["geometry"]["type"] == "LineString"
        assert track["geometry"]["coordinates"] == [[lon, lat, alt] for lat, lon, alt in route]
        assert track["properties"]["times"] == recording.observed_iso(key)
        assert [track["properties"]["party"], track["properties"]["unit_id"]] == key.split("/")
    fencer = tracks["track/RED/FENCER-11"]["properties"]
    assert fencer["callsign"] == "FENCER-11"
    assert fencer["domain"] == "AIR"
    assert fencer["platform_type"] == "Su-34"
    assert tracks["track/BLUE/SDF-1"]["properties"]["domain"] == "GROUND"


def test_the_roz_is_a_closed_polygon_through_its_agreed_vertices(
    collection: Any, recording: Recording
) -> None:
    roz = features(collection, "zone")[f"zone/{ROZ}/v1"]
    (ring,) = roz["geometry"]["coordinates"]
    assert ring[0] == ring[-1]
    for lat, lon in ROZ_VERTICES:
        assert [lon, lat] in ring
    # Counter-clockwise, as RFC 7946 asks: the signed area is positive.
    assert sum(a[0] * b[1] - b[0] * a[1] for a, b in itertools.pairwise(ring)) > 0
    properties = roz["properties"]
    assert properties["zone_id"] == ROZ
    assert properties["kind"] == "RESTRICTED_OPERATIONS_ZONE"
    assert properties["owner"] == "BLUE"
    assert properties["state"] == "ACCEPTED"
    assert properties["version"] == 1
    assert properties["current"] is True
    assert (properties["floor_m"], properties["ceiling_m"]) == ROZ_BAND
    start, end = recording.windows_ms[ROZ]
    assert (properties["effective_from"], properties["effective_until"]) == (
        iso_ms(start),
        iso_ms(end),
    )
    assert [s["state"] for s in properties["states"]] == ["PROPOSED", "ACCEPTED"]
    # The ROZ names no domain: its kind's default, AIR, is what the server enforced.
    assert properties["restricted_domains"] == ["AIR"]


def test_the_kill_box_circle_keeps_its_radius_and_shows_its_withdrawal(collection: Any) -> None:
    kill_box = features(collection, "zone")[f"zone/{KILL_BOX}/v1"]
    properties = kill_box["properties"]
    assert properties["shape"] == "circle"
    assert properties["radius_m"] == KILL_BOX_RADIUS_M
    assert properties["center"] == [KILL_BOX_CENTRE[1], KILL_BOX_CENTRE[0]]
    assert properties["owner"] == "RED"
    assert properties["state"] == "WITHDRAWN"
    assert [s["state"] for s in properties["states"]] == ["PROPOSED", "ACCEPTED", "WITHDRAWN"]
    (ring,) = kill_box["geometry"]["coordinates"]
    assert ring[0] == ring[-1]
    lat0, lon0 = KILL_BOX_CENTRE
    for lon, lat in ring:
        distance = Geodesic.WGS84.Inverse(lat0, lon0, lat, lon)["s12"]
        assert distance == pytest.approx(KILL_BOX_RADIUS_M, abs=1.0)


def test_the_deconfliction_line_is_the_band_around_the_river(collection: Any) -> None:
    line = features(collection, "zone")[f"zone/{LINE}/v1"]
    properties = line["properties"]
    assert properties["kind"] == "DECONFLICTION_LINE"
    assert properties["half_width_m"] == RIVER_HALF_WIDTH_M
    assert properties["path"] == [[lon, lat] for lat, lon in RIVER]
    exterior, *holes = line["geometry"]["coordinates"]
    assert exterior[0] == exterior[-1]
    assert not holes
    band = Polygon(exterior)
    for lat, lon in RIVER:
        assert band.contains(Point(lon, lat))
    # Deir Ezzor's river bank 1.2 km off the line is inside, Khasham (12 km) is not.
    assert band.contains(Point(40.141, 35.336 + 0.011))
    assert not band.contains(Point(40.26, 35.29))


def test_the_incursion_alert_is_placed_where_it_happened(collection: Any) -> None:
    alerts = [
        f
        for f in features(collection, "alert").values()
        if f["properties"]["kind"] == "ZONE_INCURSION"
    ]
    (incursion,) = alerts
    assert incursion["geometry"]["coordinates"] == [INCURSION_AT[1], INCURSION_AT[0]]
    assert incursion["properties"]["unit_ids"] == ["FENCER-11"]
    assert incursion["properties"]["zone_ids"] == [ROZ]
    assert "FENCER-11 entered BLUE ROZ" in incursion["properties"]["summary"]
    # 2 km inside the ROZ's western edge (the meridian of 40.20 E) on entry.
    entry = Geodesic.WGS84.Inverse(*INCURSION_AT, INCURSION_AT[0], 40.20)["s12"]
    depth = incursion["properties"]["incursion"]
    assert depth["entry_depth_m"] == pytest.approx(entry, abs=1.0)
    assert depth["max_depth_m"] == depth["entry_depth_m"]
    assert depth["duration_s"] == 0.0


def test_the_cleared_incursion_says_how_deep_and_how_long(collection: Any) -> None:
    alerts = features(collection, "alert").values()
    (entered,) = [a for a in alerts if a["properties"]["kind"] == "ZONE_INCURSION"]
    (cleared,) = [a for a in alerts if a["properties"]["kind"] == "ZONE_INCURSION_CLEARED"]
    record = cleared["properties"]["incursion"]
    # Deepest at 40.30 E, 9 km from the western edge; 40.38 E is nearer the eastern one.
    deepest = Geodesic.WGS84.Inverse(35.30, 40.30, 35.30, 40.20)["s12"]
    assert record["max_depth_m"] == pytest.approx(deepest, abs=1.0)
    assert record["entry_depth_m"] == entered["properties"]["incursion"]["entry_depth_m"]
    inside = datetime.fromisoformat(cleared["properties"]["time"]) - datetime.fromisoformat(
        entered["properties"]["time"]
    )
    assert record["duration_s"] == pytest.approx(inside.total_seconds(), abs=0.01)
