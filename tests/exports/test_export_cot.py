"""``hotline export --format cot``: each line an event that ElementTree and takproto
(the TAK protocol library) accept."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import takproto  # type: ignore[import-untyped]  # ships no type information
from exports.recording import (
    KILL_BOX,
    KILL_BOX_CENTRE,
    KILL_BOX_RADIUS_M,
    LINE,
    ROUTES,
    ROZ,
    ROZ_VERTICES,
    Recording,
    export,
    exported,
)


def events(capsys: pytest.CaptureFixture[str], log: Path, *options: str) -> list[ET.Element]:
    lines = exported(capsys, log, "cot", *options).splitlines()
    assert all(line.startswith('<?xml version="1.0" encoding="UTF-8"?><event ') for line in lines)
    parsed = [ET.fromstring(line) for line in lines]
    for event in parsed:
        assert event.tag == "event"
        assert event.attrib["version"] == "2.0"
        assert {"uid", "type", "how", "time", "start", "stale"} <= set(event.attrib)
        assert event.find("point") is not None
        assert event.find("detail") is not None
    return parsed


def child(element: ET.Element, path: str) -> ET.Element:
    found = element.find(path)
    assert found is not None, path
    return found


def of_unit(parsed: list[ET.Element], key: str) -> list[ET.Element]:
    return [e for e in parsed if e.attrib["uid"] == f"hotline.default.{key.replace('/', '.')}"]


def test_every_position_is_an_event_typed_from_blues_perspective(
    capsys: pytest.CaptureFixture[str], log: Path, recording: Recording
) -> None:
    parsed = events(capsys, log, "--perspective", "BLUE")
    expected_types = {
        "BLUE/VIPER-01": "a-f-A",
        "BLUE/SDF-1": "a-f-G",
        "RED/FENCER-11": "a-n-A",
        "RED/TIGER-2": "a-n-G",
    }
    for key, route in ROUTES.items():
        unit = of_unit(parsed, key)
        assert {e.attrib["type"] for e in unit} == {expected_types[key]}
        points = [
            tuple(float(child(e, "point").attrib[a]) for a in ("lat", "lon", "hae")) for e in unit
        ]
        assert points == route
        assert [e.attrib["time"] for e in unit] == recording.observed_iso(key)
        for event in unit:
            start = dt.datetime.fromisoformat(event.attrib["start"])
            stale = dt.datetime.fromisoformat(event.attrib["stale"])
            assert stale > start
            assert child(event, "point").attrib["ce"] == "15.0"
            contact = event.find("detail/contact")
            assert contact is not None
            assert contact.attrib["callsign"] == key.partition("/")[2]


def test_other_perspectives_and_hostile_others(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    parsed = events(capsys, log, "--perspective", "red", "--others", "hostile")
    assert {e.attrib["type"] for e in of_unit(parsed, "RED/FENCER-11")} == {"a-f-A"}
    assert {e.attrib["type"] for e in of_unit(parsed, "BLUE/SDF-1")} == {"a-h-G"}
    # Without a perspective nobody is friendly.
    parsed = events(capsys, log)
    types = {e.attrib["type"] for e in parsed if e.attrib["type"].startswith("a-")}
    assert types == {"a-n-A", "a-n-G"}


def test_an_unknown_perspective_is_refused(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    code, out, err = export(capsys, log, "cot", "--perspective", "GREEN")
    assert code != 0
    assert out == ""
    assert "GREEN" in err
    assert "BLUE, RED" in err


def test_zones_are_drawn_and_the_withdrawn_kill_box_is_deleted(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    parsed = events(capsys, log)
    by_uid: dict[str, list[ET.Element]] = {}
    for event in parsed:
        by_uid.setdefault(event.attrib["uid"], []).append(event)

    roz = by_uid[f"hotline.default.zone.{ROZ}"]
    assert [child(e, "detail/hotline").attrib["state"] for e in roz] == ["PROPOSED", "ACCEPTED"]
    assert {e.attrib["type"] for e in roz} == {"u-d-f"}
    links = [link.attrib["point"] for link in roz[-1].findall("detail/link")]
    vertices = [f"{lat},{lon}" for lat, lon in ROZ_VERTICES]
    assert links == [*vertices, vertices[0]]

    circles = by_uid[f"hotline.default.zone.{KILL_BOX}"]
    assert {e.attrib["type"] for e in circles} == {"u-d-c-c"}
    ellipse = circles[-1].find("detail/shape/ellipse")
    assert ellipse is not None
    assert float(ellipse.attrib["major"]) == float(ellipse.attrib["minor"]) == KILL_BOX_RADIUS_M
    point = circles[-1].find("point")
    assert point is not None
    assert (float(point.attrib["lat"]), float(point.attrib["lon"])) == KILL_BOX_CENTRE
    (delete,) = [e for e in parsed if e.attrib["type"] == "t-x-d-d"]
    link = delete.find("detail/link")
    assert link is not None
    assert link.attrib["uid"] == f"hotline.default.zone.{KILL_BOX}"
    # The delete comes after the circle was drawn.
    assert parsed.index(delete) > parsed.index(circles[-1])

    corridor = by_uid[f"hotline.default.zone.{LINE}"][-1]
    assert corridor.attrib["type"] == "u-d-f"
    points = [link.attrib["point"] for link in corridor.findall("detail/link")]
    assert len(points) > 10
    assert points[0] == points[-1]


def test_takproto_accepts_every_event(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    lines = exported(capsys, log, "cot", "--perspective", "BLUE").splitlines()
    for line in lines:
        message = takproto.parse_proto(takproto.xml2proto(line))
        event = ET.fromstring(line)
        assert message.cotEvent.uid == event.attrib["uid"]
        assert message.cotEvent.type == event.attrib["type"]
        sent = dt.datetime.fromisoformat(event.attrib["time"])
        assert message.cotEvent.sendTime == round(sent.timestamp() * 1000)
        # The XML form is recognised as such by takproto's own parser.
        assert takproto.parse_proto(bytearray(line.encode())) is not None
    fencer = next(
        takproto.parse_proto(takproto.xml2proto(line)) for line in lines if "FENCER-11" in line
    )
    assert (fencer.cotEvent.lat, fencer.cotEvent.lon) == (35.30, 40.10)
    assert fencer.cotEvent.detail.contact.callsign == "FENCER-11"
    assert fencer.cotEvent.detail.track.speed == 230.0
    assert fencer.cotEvent.detail.track.course == 90.0
