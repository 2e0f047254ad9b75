"""Incursions and separation breaches: the deconfliction alerts a trainer goes through
one by one.

Every ZONE_INCURSION and SEPARATION_BREACH the server raised is counted, and the first
``keep`` are listed. An incursion is paired with the ZONE_INCURSION_CLEARED of the same
unit and zone that followed it, which gives how long the unit stayed inside and how
deep it went (the alerts' ``incursion`` records); one never cleared was still inside
when the log ended. PREDICTED_CONFLICT alerts are counted but not listed: the breach
they warned of, if it came, is.

Every incursion, listed or not, is also counted in the hour it began, with the deepest
any of that hour's went: the pattern of a rising count, deep inside agreed lines.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from hotline.v1 import acknowledgments_pb2, log_pb2

__all__ = ["Incident", "IncidentTable", "IncursionHour"]

A = acknowledgments_pb2
_LISTED = frozenset({A.ALERT_KIND_ZONE_INCURSION, A.ALERT_KIND_SEPARATION_BREACH})
_COUNTED = _LISTED | {A.ALERT_KIND_PREDICTED_CONFLICT, A.ALERT_KIND_ZONE_INCURSION_CLEARED}


@dataclass(slots=True)
class Incident:
    """One incursion or breach, as the alert described it."""

    index: int
    at: float
    hotline: int
    kind: int
    alert: acknowledgments_pb2.Alert
    #: For an incursion: when the unit left the zone (``None``: it never did).
    cleared_at: float | None = None
    cleared_index: int | None = None
    #: For an incursion: the ZONE_INCURSION_CLEARED alert, with the episode's record.
    cleared: acknowledgments_pb2.Alert | None = None

    @property
    def deepest_m(self) -> float:
        """The deepest the unit was seen inside (so far, if it never left)."""
        record = (self.cleared or self.alert).incursion
        return record.max_depth_m

    @property
    def is_incursion(self) -> bool:
        return self.kind == A.ALERT_KIND_ZONE_INCURSION

    @property
    def location(self) -> tuple[float, float] | None:
        if not self.alert.HasField("location"):
            return None
        return self.alert.location.latitude, self.alert.location.longitude


def _pair_key(alert: acknowledgments_pb2.Alert) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(sorted(alert.unit_ids)), tuple(sorted(alert.zone_ids))


@dataclass(slots=True)
class IncursionHour:
    """The incursions that began in one hour."""

    start: float
    """The hour's first second (UNIX time)."""
    count: int = 0
    deepest_m: float = 0.0
    """The deepest any of them went."""


_HOUR = 3600.0


@dataclass(slots=True)
class _Open:
    hour: IncursionHour
    incident: Incident | None = field(default=None)


class IncidentTable:
    """Takes every record; keeps the first ``keep`` incursions and breaches."""

    def __init__(self, keep: int = 200) -> None:
        self._keep = keep
        self.incidents: list[Incident] = []
        #: Alerts by kind, every one.
        self.counts: Counter[int] = Counter()
        #: Incursions by the hour they began, every one.
        self.hours: dict[float, IncursionHour] = {}
        # Incursions not cleared yet, by (units, zones).
        self._inside: dict[tuple[tuple[str, ...], tuple[str, ...]], _Open] = {}

    def add(self, index: int, record: log_pb2.LogRecord, at: float, body: str) -> None:
        """Takes in one envelope record (``body`` is its ``WhichOneof`` name)."""
        if body != "alert":
            return
        alert = record.envelope.alert
        kind = alert.kind
        if kind not in _COUNTED:
            return
        self.counts[kind] += 1
        if kind == A.ALERT_KIND_ZONE_INCURSION_CLEARED:
            entered = self._inside.pop(_pair_key(alert), None)
            if entered is not None:
                entered.hour.deepest_m = max(entered.hour.deepest_m, alert.incursion.max_depth_m)
                if entered.incident is not None:
                    entered.incident.cleared_at = at
                    entered.incident.cleared_index = index
                    entered.incident.cleared = alert
            return
        opened = None
        if kind == A.ALERT_KIND_ZONE_INCURSION:
            start = math.floor(at / _HOUR) * _HOUR
            hour = self.hours.setdefault(start, IncursionHour(start))
            hour.count += 1
            hour.deepest_m = max(hour.deepest_m, alert.incursion.max_depth_m)
            opened = self._inside[_pair_key(alert)] = _Open(hour)
        if kind not in _LISTED or len(self.incidents) >= self._keep:
            return
        incident = Incident(index, at, record.hotline, kind, alert)
        self.incidents.append(incident)
        if opened is not None:
            opened.incident = incident

    @property
    def incursions(self) -> int:
        return self.counts[A.ALERT_KIND_ZONE_INCURSION]

    @property
    def breaches(self) -> int:
        return self.counts[A.ALERT_KIND_SEPARATION_BREACH]

    @property
    def hidden(self) -> int:
        """Incursions and breaches counted but not listed."""
        return self.incursions + self.breaches - len(self.incidents)
