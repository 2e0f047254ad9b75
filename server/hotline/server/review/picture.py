"""The geographic picture of a recorded exercise: every unit's track, every zone's
versions, and the alerts, gathered from the log in one pass.

The report's map and the exports (GeoJSON, KML, CoT, ACMI) read this rather than the
records, so they agree with each other. Times are UNIX seconds: a position's own
observation time when the sender gave one, otherwise the server time of its record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from hotline.contract import seconds
from hotline.server.replay.filters import recorded_at
from hotline.v1 import acknowledgments_pb2, envelope_pb2, log_pb2, zones_pb2

__all__ = ["AlertEvent", "Fix", "Picture", "Track", "ZoneHistory", "ZoneVersion"]


@dataclass(slots=True)
class Fix:
    """One reported position of a unit. Not frozen: a long exercise has millions, and
    a frozen dataclass is several times slower to make."""

    index: int
    at: float
    latitude: float
    longitude: float
    altitude_m: float
    course_deg: float
    speed_mps: float
    #: The sender's one-sigma horizontal accuracy in metres; 0 when not given.
    accuracy_m: float = 0.0


@dataclass(slots=True)
class Track:
    """A unit's reported positions in log order. Units are told apart by their party
    and unit id: two parties may reuse the same id."""

    party: str
    unit_id: str
    callsign: str
    domain: int
    platform_type: str
    fixes: list[Fix] = field(default_factory=list)

    @property
    def key(self) -> str:
        """``PARTY/unit_id``, unique within the exercise."""
        return f"{self.party}/{self.unit_id}"


@dataclass(frozen=True, slots=True)
class ZoneVersion:
    """A zone as the server announced it (a ``ZoneStatus`` record)."""

    index: int
    at: float
    zone: zones_pb2.Zone


@dataclass(slots=True)
class ZoneHistory:
    """Every announced version and state change of one zone, in log order."""

    zone_id: str
    versions: list[ZoneVersion] = field(default_factory=list)

    @property
    def latest(self) -> zones_pb2.Zone:
        return self.versions[-1].zone

    @property
    def ever_accepted(self) -> bool:
        """Whether the zone was ever in force (accepted or active) during the exercise."""
        return any(
            v.zone.state in (zones_pb2.ZONE_STATE_ACCEPTED, zones_pb2.ZONE_STATE_ACTIVE)
            for v in self.versions
        )


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """An alert raised by the server, with the record that carried it."""

    index: int
    at: float
    hotline: int
    alert: acknowledgments_pb2.Alert


@dataclass(slots=True)
class Picture:
    """Tracks by ``PARTY/unit_id``, zones by id, alerts in log order."""

    tracks: dict[str, Track] = field(default_factory=dict)
    zones: dict[str, ZoneHistory] = field(default_factory=dict)
    alerts: list[AlertEvent] = field(default_factory=list)

    @classmethod
    def from_records(cls, records: Iterable[tuple[int, log_pb2.LogRecord]]) -> Picture:
        """The picture of ``(index, record)`` pairs given in log order."""
        picture = cls()
        for index, record in records:
            picture.add(index, record)
        return picture

    def add(self, index: int, record: log_pb2.LogRecord) -> None:
        """Takes in one record; records that carry no geography are ignored."""
        if record.WhichOneof("payload") != "envelope":
            return
        envelope = record.envelope
        body = envelope.WhichOneof("body")
        if body == "position_report":
            self._add_positions(index, record, envelope)
        elif body == "zone_status":
            zone = envelope.zone_status.zone
            history = self.zones.setdefault(zone.zone_id, ZoneHistory(zone.zone_id))
            history.versions.append(ZoneVersion(index, recorded_at(record), zone))
        elif body == "alert":
            self.alerts.append(
                AlertEvent(index, recorded_at(record), envelope.hotline, envelope.alert)
            )

    def _add_positions(
        self, index: int, record: log_pb2.LogRecord, envelope: envelope_pb2.Envelope
    ) -> None:
        party = envelope.sender.party
        received = recorded_at(record)
        for position in envelope.position_report.positions:
            key = f"{party}/{position.unit_id}"
            track = self.tracks.get(key)
            if track is None:
                track = self.tracks[key] = Track(
                    party,
                    position.unit_id,
                    position.callsign,
                    position.domain,
                    position.platform_type,
                )
            observed = position.observed_at
            at = seconds(observed) if observed.seconds else received
            track.fixes.append(
                Fix(
                    index,
                    at,
                    position.latitude,
                    position.longitude,
                    position.altitude_m,
                    position.course_deg,
                    position.speed_mps,
                    position.accuracy_m,
                )
            )

    def bounds(self) -> tuple[float, float, float, float] | None:
        """``(min_lat, min_lon, max_lat, max_lon)`` of every fix and zone vertex or
        centre, or ``None`` for a picture with no geography."""
        lats: list[float] = []
        lons: list[float] = []
        for track in self.tracks.values():
            lats.extend(f.latitude for f in track.fixes)
            lons.extend(f.longitude for f in track.fixes)
        for history in self.zones.values():
            geometry = history.latest.geometry
            shape = geometry.WhichOneof("shape")
            if shape == "polygon":
                points = list(geometry.polygon.vertices)
            elif shape == "circle":
                points = [geometry.circle.center]
            elif shape == "corridor":
                points = list(geometry.corridor.path)
            else:
                points = []
            lats.extend(p.latitude for p in points)
            lons.extend(p.longitude for p in points)
        if not lats:
            return None
        return min(lats), min(lons), max(lats), max(lons)
