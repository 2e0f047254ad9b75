"""Exports of a recorded exercise, for the tools people review exercises with.

One module per format; each has ``write(records, out, options)``, which reads the log
once (``(index, record)`` pairs in log order) and writes text to ``out`` as it goes.
The same log and the same options always give the same bytes: no current time is
written and everything is iterated in a fixed order.

=========  ============================================================  ==========
format     what it holds                                                 read by
=========  ============================================================  ==========
geojson    zones (polygons), tracks (lines with times), located alerts   GIS, web maps
kml        zones (extruded, time-spanned), ``gx:Track`` per unit, alerts  Google Earth
csv        one row per log record                                        spreadsheets
cot        one CoT event per position and zone announcement              TAK
acmi       tracks as Tacview objects; zones and alerts as events         Tacview
=========  ============================================================  ==========
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TextIO

from hotline.server.exports import acmi, cot, csv, geojson, kml
from hotline.server.exports._common import ExportOptions, Others, Records

__all__ = ["FORMATS", "ExportOptions", "Format", "Others", "Records"]


@dataclass(frozen=True, slots=True)
class Format:
    """An export format: its name on the command line, usual file suffix, and writer."""

    name: str
    suffix: str
    description: str
    write: Callable[[Records, TextIO, ExportOptions], None]


FORMATS: Mapping[str, Format] = {
    f.name: f
    for f in (
        Format(
            "geojson",
            ".geojson",
            "zones, tracks and alerts as a GeoJSON FeatureCollection",
            geojson.write,
        ),
        Format(
            "kml", ".kml", "zones and time-stamped tracks for Google Earth (KML 2.2)", kml.write
        ),
        Format("csv", ".csv", "one row per log record", csv.write),
        Format("cot", ".cot", "Cursor-on-Target events for TAK, one per line", cot.write),
        Format("acmi", ".acmi", "Tacview ACMI 2.2 flight recording", acmi.write),
    )
}
