"""What the export formats share: the options, times, enum names, party colours, zone
outlines, and the one pass over the log that gathers the picture.

Everything here is deterministic: no current time, no unordered iteration, so the same
log and the same options give the same bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from google.protobuf.timestamp_pb2 import Timestamp
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient

from hotline.contract import seconds
from hotline.server.deconfliction.geometry import shape_from_geometry
from hotline.server.errors import InvalidArgument
from hotline.server.review.picture import Fix, Picture, Track, ZoneHistory, ZoneVersion
from hotline.v1 import common_pb2, exercise_pb2, log_pb2, zones_pb2

Records = Iterable[tuple[int, log_pb2.LogRecord]]
"""``(index, record)`` pairs in log order, as ``recorded.parsed_records`` yields them."""

Others = Literal["neutral", "hostile"]

#: Decimal places kept for computed outline coordinates: 1e-9 degree is about 0.1 mm.
OUTLINE_DECIMALS = 9

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

#: States after which a zone is no longer in force.
ENDED_STATES = frozenset(
    (zones_pb2.ZONE_STATE_REJECTED, zones_pb2.ZONE_STATE_WITHDRAWN, zones_pb2.ZONE_STATE_EXPIRED)
)


def _no_summary(record: log_pb2.LogRecord) -> str:
    return ""


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """How an export is written; each format reads the options that concern it."""

    perspective: str | None = None
    """CoT: the party whose units are friendly (``a-f``); ``None`` for none."""
    others: Others = "neutral"
    """CoT: how the units of every other party are typed (``a-n`` or ``a-h``)."""
    describe: Callable[[log_pb2.LogRecord], str] = _no_summary
    """CSV: the one-line summary of a record (the CLI passes its own renderer)."""


# ---------------------------------------------------------------------- times and names


def iso(seconds: float) -> str:
    """UTC ISO 8601 to the millisecond, e.g. ``2026-11-21T06:00:00.000Z``."""
    moment = _EPOCH + dt.timedelta(milliseconds=round(seconds * 1000))
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stamp_seconds(stamp: Timestamp) -> float | None:
    """A protobuf time as UNIX seconds; ``None`` when it was never set."""
    if not stamp.seconds and not stamp.nanos:
        return None
    return seconds(stamp)


def stamp_iso(stamp: Timestamp) -> str | None:
    seconds = stamp_seconds(stamp)
    return None if seconds is None else iso(seconds)


def enum_name(enum: object, value: int, prefix: str) -> str:
    """``ZONE_KIND_KILL_BOX`` -> ``KILL_BOX``; an unknown number is written as is."""
    try:
        return str(enum.Name(value)).removeprefix(prefix)  # type: ignore[attr-defined]
    except ValueError:
        return str(value)


def domain_name(domain: int) -> str:
    return enum_name(common_pb2.Domain, domain, "DOMAIN_")


def zone_kind_name(kind: int) -> str:
    return enum_name(zones_pb2.ZoneKind, kind, "ZONE_KIND_")


def zone_state_name(state: int) -> str:
    return enum_name(zones_pb2.ZoneState, state, "ZONE_STATE_")


def number(value: float) -> str:
    """A float written exactly and briefly (``35.3``, ``5000.0``)."""
    return repr(float(value))


def in_time_order(track: Track) -> list[Fix]:
    """The track's fixes by time; fixes with the same time stay in log order. A
    position observed earlier but reported later takes its place in time."""
    return sorted(track.fixes, key=lambda fix: fix.at)


# ---------------------------------------------------------------------- the recorded picture


@dataclass(slots=True)
class Recorded:
    """The exercise configuration (the first record) and the picture of the log."""

    exercise: exercise_pb2.Exercise | None = None
    picture: Picture = field(default_factory=Picture)

    def parties(self) -> list[str]:
        """Every party: the exercise's, in its order, then any other the log names."""
        known = [p.party_id for p in self.exercise.parties] if self.exercise else []
        named = {t.party for t in self.picture.tracks.values()}
        named |= {h.latest.owner_party for h in self.picture.zones.values()}
        return known + sorted(named - set(known) - {""})

    def party_name(self, party: str) -> str:
        """The party's name in the exercise (``Coalition``), or its id."""
        for configured in self.exercise.parties if self.exercise else ():
            if configured.party_id == party and configured.name:
                return configured.name
        return party

    def tracks(self) -> list[Track]:
        """Tracks sorted by ``PARTY/unit_id``."""
        return [self.picture.tracks[key] for key in sorted(self.picture.tracks)]

    def zones(self) -> list[ZoneHistory]:
        """Zones sorted by id."""
        return [self.picture.zones[key] for key in sorted(self.picture.zones)]


def gather(records: Records) -> Recorded:
    """One pass over the log: the exercise record and the picture."""
    recorded = Recorded()
    for index, record in records:
        if record.WhichOneof("payload") == "exercise" and recorded.exercise is None:
            recorded.exercise = record.exercise
        recorded.picture.add(index, record)
    return recorded


@dataclass(frozen=True, slots=True)
class ContentVersion:
    """One content version of a zone and the state changes it went through."""

    zone: zones_pb2.Zone
    """The version as last announced (its final state)."""
    announcements: tuple[ZoneVersion, ...]
    current: bool
    """Whether this is the zone's latest version."""


def content_versions(history: ZoneHistory) -> Iterator[ContentVersion]:
    """The zone's versions in order; a state change keeps the version number, so the
    announcements of one version are grouped."""
    grouped: dict[int, list[ZoneVersion]] = {}
    for announced in history.versions:
        grouped.setdefault(announced.zone.version, []).append(announced)
    latest = max(grouped)
    for version in sorted(grouped):
        announcements = grouped[version]
        yield ContentVersion(announcements[-1].zone, tuple(announcements), version == latest)


# ---------------------------------------------------------------------- zone outlines


Ring = list[tuple[float, float]]
"""``(longitude, latitude)`` pairs, closed (the last equals the first)."""


@dataclass(frozen=True, slots=True)
class Outline:
    """A zone's area as a polygon: the area the server evaluates incursions against.

    Polygon edges are followed along their geodesics (a point every 2 km at most),
    circles and corridors are traced to within 25 cm. The exterior runs counter-clockwise
    and the holes (a corridor that loops) clockwise, as RFC 7946 asks. A zone across the
    antimeridian keeps one continuous outline, with longitudes beyond ±180.
    """

    exterior: Ring
    holes: tuple[Ring, ...]
    centre: tuple[float, float]
    """``(latitude, longitude)`` near the middle of the shape."""


def outline(geometry: zones_pb2.Geometry) -> Outline | None:
    """The outline of a zone's geometry; ``None`` for geometry the server would have
    refused (only an unverified log can hold it)."""
    try:
        shape = shape_from_geometry(geometry, "zone.geometry")
    except InvalidArgument:
        return None
    polygon: Polygon = orient(shape.outline, 1.0)
    return Outline(
        _ring(polygon.exterior.coords),
        tuple(_ring(hole.coords) for hole in polygon.interiors),
        shape.centre,
    )


def _ring(coords: Iterable[tuple[float, ...]]) -> Ring:
    return [
        (round(float(c[0]), OUTLINE_DECIMALS), round(float(c[1]), OUTLINE_DECIMALS)) for c in coords
    ]


# ---------------------------------------------------------------------- party colours


@dataclass(frozen=True, slots=True)
class Colour:
    """A party's colour: its name in Tacview's palette and its RGB value."""

    name: str
    red: int
    green: int
    blue: int

    def kml(self, alpha: int = 0xFF) -> str:
        """KML's ``aabbggrr``."""
        return f"{alpha:02x}{self.blue:02x}{self.green:02x}{self.red:02x}"

    def argb(self, alpha: int = 0xFF) -> int:
        """ATAK's colour value: ARGB as a signed 32-bit integer."""
        value = alpha << 24 | self.red << 16 | self.green << 8 | self.blue
        return value - (1 << 32) if value >= 1 << 31 else value


#: In the order other parties receive them; Tacview knows these names.
PALETTE = (
    Colour("Red", 0xE0, 0x20, 0x20),
    Colour("Blue", 0x20, 0x60, 0xFF),
    Colour("Green", 0x20, 0xB0, 0x40),
    Colour("Orange", 0xFF, 0x90, 0x00),
    Colour("Violet", 0x90, 0x40, 0xE0),
    Colour("Cyan", 0x00, 0xC0, 0xD0),
    Colour("Yellow", 0xF0, 0xE0, 0x00),
)


def party_colours(parties: Iterable[str]) -> dict[str, Colour]:
    """A colour per party: a party named after a colour (``BLUE``, ``RED``) gets it,
    the others the next unused colour of :data:`PALETTE`, in the order given."""
    by_name = {colour.name.upper(): colour for colour in PALETTE}
    ordered = list(dict.fromkeys(parties))
    colours = {p: by_name[p.upper()] for p in ordered if p.upper() in by_name}
    free = [c for c in PALETTE if c not in colours.values()] or list(PALETTE)
    for n, party in enumerate(p for p in ordered if p not in colours):
        colours[party] = free[n % len(free)]
    return colours
