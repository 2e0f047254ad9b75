"""Last known units, and the neighbourhoods that find which pairs need a closer look.

A :class:`Track` is the last report of one unit. Surface units (GROUND, SEA) are few
per square kilometre and slow, so a grid of 0.1° cells finds their neighbours in a few
dictionary lookups. Aircraft are fast (their five-minute look-ahead spans 150 km) and
comparatively few: every aircraft report is screened against all aircraft at once in
numpy by altitude and party (:class:`AirPicture`), and the few left by distance now and
at the flat closest approach. Both only *select* candidates with relaxed thresholds
(wide enough for what a flat estimate may miss the geodesic by); the decision is the
exact pair test in :mod:`hotline.server.deconfliction.separation`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from hotline.server.deconfliction.approach import flat_error_m
from hotline.server.deconfliction.geodesy import metres_per_degree
from hotline.v1 import common_pb2, positions_pb2

UnitKey = tuple[str, str]
"""(party, unit_id): unit ids are the party's own, so two parties may reuse one."""

_DEG = math.pi / 180.0


@dataclass(slots=True, eq=False)
class Track:
    """The last report of one unit, with the velocity and local scale precomputed."""

    key: UnitKey
    party: str
    domain: common_pb2.Domain.ValueType
    lat: float = 0.0
    lon: float = 0.0
    alt: float = 0.0
    course: float = 0.0
    speed: float = 0.0
    ve: float = 0.0
    vn: float = 0.0
    observed: float = -math.inf
    ky: float = 1.0
    kx: float = 1.0
    prev_lat: float = math.nan
    prev_lon: float = math.nan
    message: positions_pb2.UnitPosition | None = None
    """The report itself, kept by reference (the caller does not mutate it)."""
    slot: int = -1
    cell: tuple[int, int] | None = None
    #: (zone cells, index generation, entries): the last zone query, reused while the
    #: unit stays in the same cell and no zone changes.
    zone_query: tuple[object, int, list[Any]] | None = None
    #: (cell span, cell keys): the last neighbourhood search of a surface unit.
    surface_query: tuple[tuple[int, int, int, int], list[tuple[int, int]]] | None = None

    def update(self, unit: positions_pb2.UnitPosition, observed: float) -> None:
        """Takes a (validated) report as the unit's last known state."""
        self.prev_lat, self.prev_lon = self.lat, self.lon
        lat = unit.latitude
        self.lat = lat
        self.lon = unit.longitude
        self.alt = unit.altitude_m
        course = unit.course_deg
        speed = unit.speed_mps
        self.course = course
        self.speed = speed
        self.ve = speed * math.sin(course * _DEG)
        self.vn = speed * math.cos(course * _DEG)
        self.observed = observed
        self.ky, self.kx = metres_per_degree(lat)
        self.message = unit

    def is_fresh(self, now: float, stale_after_s: float) -> bool:
        return now - self.observed <= stale_after_s

    @property
    def callsign(self) -> str:
        return self.message.callsign if self.message is not None else ""

    def position(self) -> positions_pb2.UnitPosition:
        """A copy of the last report."""
        unit = positions_pb2.UnitPosition()
        if self.message is not None:
            unit.CopyFrom(self.message)
        return unit


class SurfaceGrid:
    """Surface units in cells of ``cell_deg`` degrees, one grid per party so that a
    search never walks the searching unit's own side."""

    def __init__(self, cell_deg: float = 0.1) -> None:
        self._inverse = 1.0 / cell_deg
        self._columns = round(360.0 * self._inverse)
        self._parties: dict[str, dict[tuple[int, int], set[Track]]] = {}
        #: Fastest speed reported so far; bounds how far a partner can come from.
        self.max_speed = 0.0

    def _cell(self, lat: float, lon: float) -> tuple[int, int]:
        return int((lat + 90.0) * self._inverse), int((lon + 180.0) * self._inverse) % self._columns

    def place(self, track: Track) -> None:
        cell = self._cell(track.lat, track.lon)
        self.max_speed = max(self.max_speed, track.speed)
        if cell == track.cell:
            return
        cells = self._parties.setdefault(track.party, {})
        if track.cell is not None:
            cells[track.cell].discard(track)
        track.cell = cell
        cells.setdefault(cell, set()).add(track)

    def remove(self, track: Track) -> None:
        if track.cell is not None:
            self._parties[track.party][track.cell].discard(track)
            track.cell = None

    def near(self, track: Track, reach_m: float) -> list[Track]:
        """Other parties' units whose cell lies within ``reach_m`` (a superset)."""
        inv = self._inverse
        dlat = reach_m / track.ky
        dlon = min(reach_m / track.kx, 180.0)
        span = (
            int((track.lat - dlat + 90.0) * inv),
            int((track.lat + dlat + 90.0) * inv),
            int((track.lon - dlon + 180.0) * inv),
            int((track.lon + dlon + 180.0) * inv),
        )
        # A unit usually searches the same cells as at its last report.
        cached = track.surface_query
        if cached is not None and cached[0] == span:
            keys = cached[1]
        else:
            columns = self._columns
            keys = [
                (r, c % columns)
                for r in range(span[0], span[1] + 1)
                for c in range(span[2], span[3] + 1)
            ]
            track.surface_query = (span, keys)
        found: list[Track] = []
        for party, cells in self._parties.items():
            if party == track.party:
                continue
            for key in keys:
                bucket = cells.get(key)
                if bucket:
                    found += bucket
        return found


_FAR = 1.0e6  # degrees: an empty slot is placed where no distance test can pass


class AirPicture:
    """Aircraft in flat numpy arrays, one slot per aircraft, for vectorised screening."""

    def __init__(self) -> None:
        self._tracks: list[Track | None] = []
        self._free: list[int] = []
        self._party_codes: dict[str, int] = {}
        self._high_water = 0
        #: Fastest aircraft reported so far; bounds how far a partner can come from.
        self.max_speed = 0.0
        self._state: np.ndarray = np.empty((0, 0))
        self._resize(64)

    def _resize(self, capacity: int) -> None:
        old = len(self._tracks)
        self._tracks.extend([None] * (capacity - old))
        # Lowest slots first, so that the arrays screened stay as short as possible.
        self._free.extend(range(capacity - 1, old - 1, -1))
        # Rows: longitude, latitude, east and north velocity, altitude, observed time,
        # party code; then a scratch row for the screen.
        state = np.full((_ROWS + _SCRATCH, capacity), 0.0)
        state[_LON : _LAT + 1] = _FAR
        state[_PARTY] = -1.0
        if old:
            state[:_ROWS, :old] = self._state[:_ROWS]
        self._state = state
        self._flags = np.empty((2, capacity), dtype=bool)
        self._slice()

    def _slice(self) -> None:
        """Views of the first ``_high_water`` slots: slicing per screen would cost more
        than some of the arithmetic."""
        n = self._high_water
        self._rows = [row[:n] for row in self._state]
        self._flag_rows = [row[:n] for row in self._flags]

    def place(self, track: Track) -> None:
        if track.slot < 0:
            if not self._free:
                self._resize(2 * len(self._tracks))
            track.slot = self._free.pop()
            self._tracks[track.slot] = track
            if track.slot >= self._high_water:
                self._high_water = track.slot + 1
                self._slice()
        s = track.slot
        state = self._state
        state[_LON, s] = track.lon
        state[_LAT, s] = track.lat
        state[_VE, s] = track.ve
        state[_VN, s] = track.vn
        state[_ALT, s] = track.alt
        state[_OBSERVED, s] = track.observed
        state[_PARTY, s] = self._party_codes.setdefault(track.party, len(self._party_codes))
        self.max_speed = max(self.max_speed, track.speed)

    def remove(self, track: Track) -> None:
        s = track.slot
        if s < 0:
            return
        self._state[_LON, s] = self._state[_LAT, s] = _FAR
        self._state[_PARTY, s] = -1.0
        self._tracks[s] = None
        self._free.append(s)
        track.slot = -1

    def screen(
        self,
        track: Track,
        now: float,
        *,
        horizontal_m: float,
        vertical_m: float,
        look_ahead_s: float,
        stale_after_s: float,
    ) -> list[Track]:
        """Aircraft of other parties that may be in breach of, or predicted to come
        within, the minima of ``track``. Thresholds are relaxed by 2 % + 100 m, and the
        prediction's by what the flat estimate may miss the geodesic by
        (:func:`~hotline.server.deconfliction.approach.flat_error_m`), so that the
        screen never drops a pair the exact test would keep."""
        # Altitude and party first, over every slot: a handful of whole-array operations
        # writing into preallocated rows (at these sizes numpy's per-call overhead, not
        # arithmetic, is the cost). They leave few aircraft, and only those are measured.
        _, _, _, _, alt, _, party, tmp = self._rows
        near, other = self._flag_rows
        np.subtract(alt, track.alt, out=tmp)
        np.abs(tmp, out=tmp)
        np.less(tmp, vertical_m + 1.0, out=near)
        np.not_equal(party, self._party_codes[track.party], out=other)
        near &= other
        slots = np.flatnonzero(near)
        if not len(slots):
            return []
        h = horizontal_m * 1.02 + 100.0
        # A pair whose flat closest approach is within h of the geodesic's reaches at
        # most h plus both speeds over twice the look-ahead (and half a minute), so the
        # flat error of that reach bounds every pair's: one threshold for the report,
        # looser than each pair's own, and the exact test has the last word.
        farthest = h + 2.0 * (track.speed + self.max_speed) * (look_ahead_s + 30.0)
        screen = _Screen(
            track=track,
            now=now,
            h=h,
            predicted=h + flat_error_m(track.lat, farthest),
            look_ahead_s=look_ahead_s,
            stale_after_s=stale_after_s,
        )
        # A few aircraft are measured faster one by one than by numpy's calls.
        if len(slots) <= _FEW:
            return screen.each([t for i in slots.tolist() if (t := self._tracks[i]) is not None])
        hits = screen.all(self._state[:_ROWS, slots])
        tracks = self._tracks
        return [t for i in slots[hits] if (t := tracks[i]) is not None]


#: Up to this many aircraft left by altitude and party, the screen measures them one by
#: one in Python; beyond it, together in numpy.
_FEW = 16


@dataclass(slots=True)
class _Screen:
    """The distance tests of :meth:`AirPicture.screen`, for one aircraft's report: a
    pair passes if the flat distance now is under ``h``, or if both reports are fresh
    and the flat closest approach within the look-ahead is under ``predicted``."""

    track: Track
    now: float
    h: float
    predicted: float
    look_ahead_s: float
    stale_after_s: float

    def each(self, others: list[Track]) -> list[Track]:
        track, now, look_ahead, stale = self.track, self.now, self.look_ahead_s, self.stale_after_s
        h2 = self.h * self.h
        p2 = self.predicted * self.predicted
        tlat, tlon, kx, ky = track.lat, track.lon, track.kx, track.ky
        own_dt = now - track.observed
        own_fresh = own_dt <= stale
        ox = track.ve * own_dt if own_fresh else 0.0
        oy = track.vn * own_dt if own_fresh else 0.0
        tve, tvn = track.ve, track.vn
        wrap = abs(tlon) > 150.0
        found: list[Track] = []
        for other in others:
            dt = now - other.observed
            fresh = dt <= stale
            if not fresh:
                dt = 0.0
            dlon = other.lon - tlon
            if wrap:
                dlon = (dlon + 180.0) % 360.0 - 180.0
            ve, vn = other.ve, other.vn
            dx = dlon * kx + ve * dt - ox
            dy = (other.lat - tlat) * ky + vn * dt - oy
            if dx * dx + dy * dy < h2:
                found.append(other)
                continue
            if not (own_fresh and fresh):
                continue
            dvx = ve - tve
            dvy = vn - tvn
            tc = -(dx * dvx + dy * dvy) / (dvx * dvx + dvy * dvy + 1e-9)
            tc = min(max(tc, 0.0), look_ahead)
            cx = dx + dvx * tc
            cy = dy + dvy * tc
            if cx * cx + cy * cy < p2:
                found.append(other)
        return found

    def all(self, state: np.ndarray) -> np.ndarray:
        """The same tests as :meth:`each`, on the state rows of the aircraft; a mask."""
        track, now = self.track, self.now
        lon, lat, ve, vn, _, observed, _ = state
        dt = now - observed
        fresh = dt <= self.stale_after_s
        dt *= fresh  # stale aircraft stay where they were seen
        dlon = lon - track.lon
        if abs(track.lon) > 150.0:
            dlon = (dlon + 180.0) % 360.0 - 180.0
        dx = dlon * track.kx + ve * dt
        dy = (lat - track.lat) * track.ky + vn * dt
        own_dt = now - track.observed
        own_fresh = own_dt <= self.stale_after_s
        if own_fresh:
            dx -= track.ve * own_dt
            dy -= track.vn * own_dt
        hits: np.ndarray = dx * dx + dy * dy < self.h * self.h
        if own_fresh:
            dvx = ve - track.ve
            dvy = vn - track.vn
            tc = -(dx * dvx + dy * dvy) / (dvx * dvx + dvy * dvy + 1e-9)
            np.maximum(tc, 0.0, out=tc)
            np.minimum(tc, self.look_ahead_s, out=tc)
            dx += dvx * tc
            dy += dvy * tc
            hits |= fresh & (dx * dx + dy * dy < self.predicted * self.predicted)
        return hits


_LON, _LAT, _VE, _VN, _ALT, _OBSERVED, _PARTY = range(7)
_ROWS = 7
_SCRATCH = 1
