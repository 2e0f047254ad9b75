"""Incursions measured: how deep a unit is inside a zone, and the episode's record.

The depth of a point inside a zone is its geodesic distance to the zone's nearest edge
(:meth:`~hotline.server.deconfliction.geometry.Shape.edge_distance_m`); across a
deconfliction line it is the distance to the line's centre line (how far across).

An :class:`Incursion` follows one unit inside one zone from entry to exit: depth at
entry, the deepest seen and when, and so the duration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hotline.contract import duration, timestamp
from hotline.server.deconfliction.geometry import Shape
from hotline.v1 import acknowledgments_pb2

#: Positions seen inside are measured this many at a time...
_BATCH = 32
#: ... each exactly when there are no more than this (choosing the deepest by the plane
#: costs about two exact measurements).
_EACH = 2


@dataclass(slots=True)
class Incursion:
    """One unit inside one zone, from the report that found it there.

    Depth is measured exactly at entry. The positions seen inside after it are kept and
    measured a batch at a time (and when the episode ends): their distances to the edge
    in the zone's plane pick the deepest, whose depth is then measured exactly. A
    report costs an append, and the record is the same.
    """

    alert: acknowledgments_pb2.Alert
    """The ZONE_INCURSION raised on entry."""
    centre_line: bool
    """Depth is measured from a line's centre line (the unit crossed it)."""
    entered_at: float
    entry_depth_m: float
    max_depth_m: float
    max_depth_at: float
    pending: list[tuple[float, float, float]] = field(default_factory=list)
    """Positions seen inside and not measured yet: (lat, lon, time)."""

    @classmethod
    def entered(
        cls,
        alert: acknowledgments_pb2.Alert,
        now: float,
        depth: float,
        *,
        centre_line: bool,
    ) -> Incursion:
        """The episode of a unit just found inside; fills the alert's depth record."""
        incursion = cls(alert, centre_line, now, depth, depth, now)
        incursion.fill(alert.incursion, now)
        return incursion

    def seen(self, lat: float, lon: float, now: float, shape: Shape) -> None:
        """Takes a position of the unit, still inside."""
        self.pending.append((lat, lon, now))
        if len(self.pending) >= _BATCH:
            self.settle(shape)

    def settle(self, shape: Shape) -> None:
        """Measures the positions kept."""
        if not self.pending:
            return
        if len(self.pending) <= _EACH:  # measuring each costs less than choosing
            for lat, lon, at in self.pending:
                depth = shape.edge_distance_m(lat, lon, centre_line=self.centre_line)
                if depth > self.max_depth_m:
                    self.max_depth_m, self.max_depth_at = depth, at
            self.pending.clear()
            return
        lats = np.array([p[0] for p in self.pending])
        lons = np.array([p[1] for p in self.pending])
        rough = shape.edge_distances_planar(lats, lons, centre_line=self.centre_line)
        k = int(np.argmax(rough))
        # The plane errs by far less than this at any size a zone may have.
        if rough[k] * 1.05 + 10.0 > self.max_depth_m:
            lat, lon, at = self.pending[k]
            depth = shape.edge_distance_m(lat, lon, centre_line=self.centre_line)
            if depth > self.max_depth_m:
                self.max_depth_m, self.max_depth_at = depth, at
        self.pending.clear()

    def fill(self, record: acknowledgments_pb2.IncursionDepth, now: float) -> None:
        """Writes the episode as it stands at ``now`` into ``record`` (settle first)."""
        record.entry_depth_m = self.entry_depth_m
        record.max_depth_m = self.max_depth_m
        record.max_depth_at.CopyFrom(timestamp(self.max_depth_at))
        record.duration.CopyFrom(duration(max(now - self.entered_at, 0.0)))
