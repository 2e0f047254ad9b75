"""``hotline export --format kml``, read back with ``xml.etree.ElementTree``."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from exports.recording import (
    INCURSION_AT,
    KILL_BOX,
    ROUTES,
    ROZ,
    ROZ_BAND,
    ROZ_VERTICES,
    Recording,
    exported,
    iso_ms,
)

NS = {"kml": "http://www.opengis.net/kml/2.2", "gx": "http://www.google.com/kml/ext/2.2"}


@pytest.fixture
def document(capsys: pytest.CaptureFixture[str], log: Path) -> ET.Element:
    root = ET.fromstring(exported(capsys, log, "kml"))
    assert root.tag == f"{{{NS['kml']}}}kml"
    found = root.find("kml:Document", NS)
    assert found is not None
    return found


def folder(document: ET.Element, name: str) -> list[ET.Element]:
    for candidate in document.findall("kml:Folder", NS):
        if candidate.findtext("kml:name", namespaces=NS) == name:
            return candidate.findall("kml:Placemark", NS)
    raise AssertionError(f"no folder {name}")


def data(placemark: ET.Element) -> dict[str, str]:
    return {
        d.attrib["name"]: d.findtext("kml:value", default="", namespaces=NS)
        for d in placemark.findall("kml:ExtendedData/kml:Data", NS)
    }


def test_every_unit_has_a_gx_track_with_its_times_and_positions(
    document: ET.Element, recording: Recording
) -> None:
    tracks = {data(p)["party"] + "/" + data(p)["unit_id"]: p for p in folder(document, "Tracks")}
    assert sorted(tracks) == sorted(ROUTES)
    for key, route in ROUTES.items():
        track = tracks[key].find("gx:Track", NS)
        assert track is not None
        assert track.findtext("kml:altitudeMode", namespaces=NS) == "absolute"
        whens = [w.text or "" for w in track.findall("kml:when", NS)]
        assert whens == recording.observed_iso(key)
        assert whens == sorted(whens)
        coords = [tuple(map(float, (c.text or "").split())) for c in track.findall("gx:coord", NS)]
        # KML writes longitude first.
        assert coords == [(lon, lat, alt) for lat, lon, alt in route]
        assert len(track.findall("gx:angles", NS)) == len(coords)
    fencer = tracks["RED/FENCER-11"]
    assert fencer.findtext("kml:name", namespaces=NS) == "FENCER-11"
    assert fencer.findtext("kml:styleUrl", namespaces=NS) == "#track-RED"
    assert data(fencer)["domain"] == "AIR"


def test_zones_are_extruded_polygons_at_their_ceiling_within_their_window(
    document: ET.Element, recording: Recording
) -> None:
    zones = {data(p)["zone_id"]: p for p in folder(document, "Zones")}
    roz = zones[ROZ]
    assert roz.findtext("kml:styleUrl", namespaces=NS) == "#zone-BLUE"
    assert roz.findtext("kml:visibility", namespaces=NS) == "1"
    start, end = recording.windows_ms[ROZ]
    assert roz.findtext("kml:TimeSpan/kml:begin", namespaces=NS) == iso_ms(start)
    assert roz.findtext("kml:TimeSpan/kml:end", namespaces=NS) == iso_ms(end)
    polygon = roz.find("kml:Polygon", NS)
    assert polygon is not None
    assert polygon.findtext("kml:extrude", namespaces=NS) == "1"
    assert polygon.findtext("kml:altitudeMode", namespaces=NS) == "absolute"
    text = polygon.findtext("kml:outerBoundaryIs/kml:LinearRing/kml:coordinates", namespaces=NS)
    ring = [tuple(map(float, point.split(","))) for point in (text or "").split()]
    assert ring[0] == ring[-1]
    assert {alt for _, _, alt in ring} == {ROZ_BAND[1]}
    for lat, lon in ROZ_VERTICES:
        assert (lon, lat, ROZ_BAND[1]) in ring
    assert (data(roz)["floor_m"], data(roz)["state"]) == ("0.0", "ACCEPTED")
    # The withdrawn kill box is there, switched off.
    assert data(zones[KILL_BOX])["state"] == "WITHDRAWN"
    assert zones[KILL_BOX].findtext("kml:visibility", namespaces=NS) == "0"
    styles = {s.attrib["id"] for s in document.findall("kml:Style", NS)}
    assert {"zone-BLUE", "zone-RED", "track-BLUE", "track-RED"} <= styles


def test_the_incursion_is_a_timestamped_point(document: ET.Element) -> None:
    alerts = [p for p in folder(document, "Alerts") if data(p)["kind"] == "ZONE_INCURSION"]
    (incursion,) = alerts
    where = incursion.findtext("kml:Point/kml:coordinates", namespaces=NS)
    assert where == f"{INCURSION_AT[1]},{INCURSION_AT[0]}"
    assert incursion.findtext("kml:TimeStamp/kml:when", namespaces=NS)
    assert "FENCER-11" in (incursion.findtext("kml:description", namespaces=NS) or "")
