"""``hotline export --format acmi``, read back with a small ACMI 2.2 reader written here
from Tacview's format description (header, global properties, ``#`` time frames,
``id,Property=value,...`` lines with escaped commas)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from exports.recording import ROUTES, Recording, exported

_UNESCAPED_COMMA = re.compile(r"(?<!\\),")


@dataclass
class Acmi:
    globals: dict[str, str] = field(default_factory=dict)
    frames: list[float] = field(default_factory=list)
    properties: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Per object: (seconds after ReferenceTime, lon, lat, alt).
    positions: dict[str, list[tuple[float, float, float, float]]] = field(default_factory=dict)
    events: list[tuple[float, str]] = field(default_factory=list)

    def reference(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.globals["ReferenceTime"].replace("Z", "+00:00"))

    def object_with(self, name: str, value: str) -> str:
        (found,) = [i for i, props in self.properties.items() if props.get(name) == value]
        return found


def read(text: str) -> Acmi:
    lines = text.splitlines()
    assert lines[:2] == ["FileType=text/acmi/tacview", "FileVersion=2.2"]
    acmi = Acmi()
    now = None
    for line in lines[2:]:
        if line.startswith("#"):
            now = float(line[1:])
            acmi.frames.append(now)
            continue
        object_id, *pairs = _UNESCAPED_COMMA.split(line)
        values = dict(pair.split("=", 1) for pair in pairs)
        values = {k: v.replace("\\,", ",") for k, v in values.items()}
        if object_id == "0":
            if "Event" in values:
                assert now is not None
                acmi.events.append((now, values["Event"]))
            else:
                assert now is None, "global properties come before the first frame"
                acmi.globals.update(values)
            continue
        assert now is not None
        int(object_id, 16)
        acmi.properties.setdefault(object_id, {}).update(values)
        lon, lat, alt = map(float, values["T"].split("|"))
        acmi.positions.setdefault(object_id, []).append((now, lon, lat, alt))
    return acmi


@pytest.fixture
def acmi(capsys: pytest.CaptureFixture[str], log: Path) -> Acmi:
    return read(exported(capsys, log, "acmi"))


def test_header_and_time_frames(acmi: Acmi) -> None:
    assert acmi.globals["Title"] == "Default two-party exercise"
    assert acmi.reference().microsecond == 0
    assert acmi.frames
    assert acmi.frames[0] >= 0
    assert acmi.frames == sorted(acmi.frames)
    assert len(set(acmi.frames)) == len(acmi.frames)


def test_units_fly_their_reported_routes_at_their_times(acmi: Acmi, recording: Recording) -> None:
    assert len(acmi.properties) == len(ROUTES)
    reference = acmi.reference().timestamp()
    for key, route in ROUTES.items():
        party, unit = key.split("/")
        object_id = acmi.object_with("CallSign", unit)
        props = acmi.properties[object_id]
        assert props["Coalition"] == party
        assert props["Color"] == {"BLUE": "Blue", "RED": "Red"}[party]
        track = acmi.positions[object_id]
        assert [(lat, lon, alt) for _, lon, lat, alt in track] == route
        for (offset, *_), ms in zip(track, recording.observed_ms[key], strict=True):
            assert reference + offset == pytest.approx(ms / 1000, abs=0.006)
    fencer = acmi.properties[acmi.object_with("CallSign", "FENCER-11")]
    assert (fencer["Type"], fencer["Name"]) == ("Air+FixedWing", "Su-34")
    sdf = acmi.properties[acmi.object_with("CallSign", "SDF-1")]
    assert sdf["Type"] == "Ground+Vehicle"


def test_zone_changes_and_alerts_are_timeline_events(acmi: Acmi) -> None:
    texts = [text for _, text in acmi.events]
    bookmarks = [t for t in texts if t.startswith("Bookmark|")]
    assert any("ZONE_INCURSION: " in t and "FENCER-11" in t for t in bookmarks)
    messages = [t for t in texts if t.startswith("Message|")]
    assert any("Zone KB-WEST v1 WITHDRAWN: RED KILL_BOX" in t for t in messages)
    assert any("Zone ROZ-KHASHAM v1 ACCEPTED" in t and "0 to 9000 m" in t for t in messages)
    # In the order they happened: the incursion, its clearance, then the withdrawal.
    entered = next(i for i, t in enumerate(texts) if "ZONE_INCURSION: " in t)
    cleared = next(i for i, t in enumerate(texts) if "ZONE_INCURSION_CLEARED: " in t)
    withdrawn = next(i for i, t in enumerate(texts) if "WITHDRAWN" in t)
    assert entered < cleared < withdrawn
