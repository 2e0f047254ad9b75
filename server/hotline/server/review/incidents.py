"""Incursions and separation breaches: the deconfliction alerts a trainer goes through
one by one.

Every ZONE_INCURSION and SEPARATION_BREACH the server raised is counted, and the first
``keep`` are listed. An incursion is paired with the ZONE_INCURSION_CLEARED of the same
unit and zone that followed it, which gives how long the unit stayed inside; one never
cleared was still inside when the log ended. PREDICTED_CONFLICT alerts are counted but
not listed: the breach they warned of, if it came, is.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from hotline.v1 import acknowledgments_pb2, log_pb2

__all__ = ["Incident", "IncidentTable"]

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


class IncidentTable:
    """Takes every record; keeps the first ``keep`` incursions and breaches."""

    def __init__(self, keep: int = 200) -> None:
        self._keep = keep
        self.incidents: list[Incident] = []
        #: Alerts by kind, every one.
        self.counts: Counter[int] = Counter()
        # Listed incursions not cleared yet, by (units, zones).
        self._inside: dict[tuple[tuple[str, ...], tuple[str, ...]], Incident] = {}

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
                entered.cleared_at = at
                entered.cleared_index = index
            return
        if kind not in _LISTED or len(self.incidents) >= self._keep:
            return
        incident = Incident(index, at, record.hotline, kind, alert)
        self.incidents.append(incident)
        if incident.is_incursion:
            self._inside[_pair_key(alert)] = incident

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
