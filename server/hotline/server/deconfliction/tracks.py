"""Last known units, and the neighbourhoods that find which pairs need a closer look.

A :class:`Track` is the last report of one unit. Surface units (GROUND, SEA) are few
per square kilometre and slow, so a grid of 0.1° cells finds their neighbours in a few
dictionary lookups. Aircraft are fast (their five-minute look-ahead spans 150 km) and
comparatively few, so every aircraft report is compared with all aircraft at once in
numpy (:class:`AirPicture`), which costs about as much as a handful of grid cells.
Both only *select* candidates with relaxed thresholds; the decision is the exact
pair test in :mod:`hotline.server.deconfliction.separation`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

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
    callsign: str = ""
    platform_type: str = ""
    accuracy: float = 0.0
    observed_seconds: int = 0
    observed_nanos: int = 0
    slot: int = -1
    cell: tuple[int, int] | None = None

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
        self.callsign = unit.callsign
        self.platform_type = unit.platform_type
        self.accuracy = unit.accuracy_m
        self.observed_seconds = unit.observed_at.seconds
        self.observed_nanos = unit.observed_at.nanos

    def is_fresh(self, now: float, stale_after_s: float) -> bool:
        return now - self.observed <= stale_after_s

    def position(self) -> positions_pb2.UnitPosition:
        """The last report, rebuilt as a message."""
        unit = positions_pb2.UnitPosition(
            unit_id=self.key[1],
            callsign=self.callsign,
            domain=self.domain,
            latitude=self.lat,
            longitude=self.lon,
            altitude_m=self.alt,
            course_deg=self.course,
            speed_mps=self.speed,
            accuracy_m=self.accuracy,
            platform_type=self.platform_type,
        )
        unit.observed_at.seconds = self.observed_seconds
        unit.observed_at.nanos = self.observed_nanos
        return unit


class SurfaceGrid:
    """Surface units in cells of ``cell_deg`` degrees."""

    def __init__(self, cell_deg: float = 0.1) -> None:
        self._inverse = 1.0 / cell_deg
        self._columns = round(360.0 * self._inverse)
        self._cells: dict[tuple[int, int], set[Track]] = {}
        #: Fastest speed reported so far; bounds how far a partner can come from.
        self.max_speed = 0.0

    def _cell(self, lat: float, lon: float) -> tuple[int, int]:
        return int((lat + 90.0) * self._inverse), int((lon + 180.0) * self._inverse) % self._columns

    def place(self, track: Track) -> None:
        cell = self._cell(track.lat, track.lon)
        self.max_speed = max(self.max_speed, track.speed)
        if cell == track.cell:
            return
        if track.cell is not None:
            self._cells[track.cell].discard(track)
        track.cell = cell
        self._cells.setdefault(cell, set()).add(track)

    def remove(self, track: Track) -> None:
        if track.cell is not None:
            self._cells[track.cell].discard(track)
            track.cell = None

    def near(self, track: Track, reach_m: float) -> Iterator[Track]:
        """Units whose cell lies within ``reach_m`` of the track (a superset)."""
        inv = self._inverse
        row, col = self._cell(track.lat, track.lon)
        dr = int(reach_m / track.ky * inv) + 1
        dc = min(int(reach_m / track.kx * inv) + 1, self._columns // 2)
        cells = self._cells
        for r in range(row - dr, row + dr + 1):
            for c in range(col - dc, col + dc + 1):
                bucket = cells.get((r, c % self._columns))
                if bucket:
                    yield from bucket


_FAR = 1.0e6  # degrees: an empty slot is placed where no distance test can pass


class AirPicture:
    """Aircraft in flat numpy arrays, one slot per aircraft, for vectorised screening."""

    def __init__(self) -> None:
        self._tracks: list[Track | None] = []
        self._free: list[int] = []
        self._party_codes: dict[str, int] = {}
        self._resize(64)

    def _resize(self, capacity: int) -> None:
        old = len(self._tracks)
        self._tracks.extend([None] * (capacity - old))
        self._free.extend(range(capacity - 1, old - 1, -1))

        def grow(array: np.ndarray | None, fill: float) -> np.ndarray:
            new = np.full(capacity, fill)
            if array is not None:
                new[:old] = array
            return new

        get = self.__dict__.get
        self.lat = grow(get("lat"), _FAR)
        self.lon = grow(get("lon"), _FAR)
        self.alt = grow(get("alt"), 0.0)
        self.ve = grow(get("ve"), 0.0)
        self.vn = grow(get("vn"), 0.0)
        self.observed = grow(get("observed"), 0.0)
        self.party = grow(get("party"), -1.0)

    def place(self, track: Track) -> None:
        if track.slot < 0:
            if not self._free:
                self._resize(2 * len(self._tracks))
            track.slot = self._free.pop()
            self._tracks[track.slot] = track
        s = track.slot
        self.lat[s] = track.lat
        self.lon[s] = track.lon
        self.alt[s] = track.alt
        self.ve[s] = track.ve
        self.vn[s] = track.vn
        self.observed[s] = track.observed
        self.party[s] = self._party_codes.setdefault(track.party, len(self._party_codes))

    def remove(self, track: Track) -> None:
        s = track.slot
        if s < 0:
            return
        self.lat[s] = self.lon[s] = _FAR
        self.party[s] = -1.0
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
        within, the minima of ``track``. Thresholds are relaxed by 2 % + 100 m so that
        the flat estimate never drops a pair the exact test would keep."""
        h = horizontal_m * 1.02 + 100.0
        dt = now - self.observed
        fresh = dt <= stale_after_s
        edt = dt * fresh
        own_dt = now - track.observed
        own_fresh = own_dt <= stale_after_s
        ox = track.ve * own_dt if own_fresh else 0.0
        oy = track.vn * own_dt if own_fresh else 0.0
        dlon = self.lon - track.lon
        if abs(track.lon) > 150.0:
            dlon = (dlon + 180.0) % 360.0 - 180.0
        dx = dlon * track.kx + self.ve * edt - ox
        dy = (self.lat - track.lat) * track.ky + self.vn * edt - oy
        hits = dx * dx + dy * dy < h * h
        if own_fresh:
            dvx = self.ve - track.ve
            dvy = self.vn - track.vn
            dv2 = dvx * dvx + dvy * dvy + 1e-9
            tc = -(dx * dvx + dy * dvy) / dv2
            cx = dx + dvx * tc
            cy = dy + dvy * tc
            predicted = (cx * cx + cy * cy < h * h) & (tc > 0.0) & (tc <= look_ahead_s + 1.0)
            hits |= predicted & fresh
        hits &= np.abs(self.alt - track.alt) < vertical_m + 1.0
        hits &= self.party != self._party_codes[track.party]
        tracks = self._tracks
        return [t for i in np.flatnonzero(hits) if (t := tracks[i]) is not None]
