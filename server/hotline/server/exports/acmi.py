"""Tacview ACMI 2.2 (text): the tracks for a 3-D replay of the exercise in Tacview.

The file starts with ``FileType=text/acmi/tacview`` and ``FileVersion=2.2``, then the
global properties: ``ReferenceTime`` (the first moment of the export, to the whole
second), ``Title`` (the exercise's name), ``DataRecorder``. Time frames
(``#<seconds after ReferenceTime>``) follow in increasing order.

- **Units** are objects with hexadecimal ids (1, 2, ... by party and unit id). The first
  frame of a unit gives ``T=lon|lat|alt`` (altitude above mean sea level, as Tacview
  expects) and its ``Name`` (platform type, or callsign), ``CallSign``, ``Type``
  (``Air+FixedWing``, ``Ground+Vehicle`` or ``Sea+Watercraft`` by domain),
  ``Coalition`` (the party), ``Color`` and ``HDG`` (course); later frames move it
  (``T`` and ``HDG``). A unit stays where it last reported.
- **Zones** are not objects: ACMI 2.2 has no object for an area with an altitude band.
  Each zone announcement is a ``0,Event=Message|...`` at its time (zone id, version,
  state, owner, kind and band), so the timeline shows when each measure was proposed,
  agreed and withdrawn.
- **Alerts** are ``0,Event=Bookmark|...`` entries, highlighted on Tacview's timeline.

Positions are placed at their observation time, so frames are written after the whole
log has been read (one pass), merging the tracks in time order.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from hotline.server.exports._common import (
    Colour,
    ExportOptions,
    Recorded,
    Records,
    enum_name,
    gather,
    in_time_order,
    iso,
    number,
    party_colours,
    zone_kind_name,
    zone_state_name,
)
from hotline.server.review.picture import Fix, Track
from hotline.v1 import acknowledgments_pb2, common_pb2

__all__ = ["write"]

_TYPES: dict[int, str] = {
    common_pb2.DOMAIN_AIR: "Air+FixedWing",
    common_pb2.DOMAIN_GROUND: "Ground+Vehicle",
    common_pb2.DOMAIN_SEA: "Sea+Watercraft",
}


@dataclass(frozen=True, slots=True, order=True)
class _Moment:
    """One line of the file at its time; ties keep log order."""

    at: float
    index: int
    line: str


def write(records: Records, out: TextIO, options: ExportOptions) -> None:
    """Writes the ACMI file of the log to ``out``."""
    recorded = gather(records)
    colours = party_colours(recorded.parties())
    tracks = [(track, in_time_order(track)) for track in recorded.tracks()]
    streams = [
        _track(format(n, "x"), track, fixes, colours[track.party])
        for n, (track, fixes) in enumerate(tracks, start=1)
    ]
    events = sorted(_events(recorded))
    starts = [fixes[0].at for _, fixes in tracks] + [m.at for m in events[:1]]
    reference = math.floor(min(starts)) if starts else 0
    title = recorded.exercise.name if recorded.exercise else "hotline exercise"
    out.write("FileType=text/acmi/tacview\nFileVersion=2.2\n")
    out.write(f"0,ReferenceTime={iso(reference).replace('.000Z', 'Z')}\n")
    out.write(f"0,Title={_text(title)}\n0,DataRecorder=hotline\n")
    frame = None
    for moment in heapq.merge(*streams, events):
        offset = f"#{moment.at - reference:.2f}"
        if offset != frame:
            out.write(offset + "\n")
            frame = offset
        out.write(moment.line + "\n")


def _text(value: str) -> str:
    """A property value: commas escaped, no line breaks."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("\r", " ").replace("\n", " ")


def _track(object_id: str, track: Track, fixes: list[Fix], colour: Colour) -> Iterator[_Moment]:
    for n, fix in enumerate(fixes):
        line = (
            f"{object_id},T={number(fix.longitude)}|{number(fix.latitude)}|{number(fix.altitude_m)}"
        )
        if n == 0:
            properties = [
                f"Name={_text(track.platform_type or track.callsign or track.unit_id)}",
                f"CallSign={_text(track.callsign or track.unit_id)}",
                f"Coalition={_text(track.party)}",
                f"Color={colour.name}",
            ]
            if track.domain in _TYPES:
                properties.insert(0, f"Type={_TYPES[track.domain]}")
            line += "," + ",".join(properties)
        yield _Moment(fix.at, fix.index, f"{line},HDG={number(fix.course_deg)}")


def _events(recorded: Recorded) -> Iterator[_Moment]:
    for history in recorded.zones():
        for announced in history.versions:
            zone = announced.zone
            text = (
                f"Zone {zone.zone_id} v{zone.version} {zone_state_name(zone.state)}: "
                f"{zone.owner_party} {zone_kind_name(zone.kind)} {zone.name}, "
                f"{zone.altitude.floor_m:.0f} to {zone.altitude.ceiling_m:.0f} m"
            )
            yield _Moment(announced.at, announced.index, f"0,Event=Message|{_text(text)}")
    for event in recorded.picture.alerts:
        alert = event.alert
        kind = enum_name(acknowledgments_pb2.AlertKind, alert.kind, "ALERT_KIND_")
        text = f"{kind}: {alert.summary}"
        yield _Moment(event.at, event.index, f"0,Event=Bookmark|{_text(text)}")
