"""What the engine reports: findings (alerts to raise) and the current picture."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hotline.v1 import acknowledgments_pb2, common_pb2, positions_pb2, zones_pb2


@dataclass(frozen=True)
class Finding:
    """An alert the engine asks the switchboard to raise.

    ``alert.alert_id`` is left empty for the caller to assign. ``domain`` selects the
    hotline (AIR: air operations, GROUND or SEA: ground commanders; DOMAIN_UNSPECIFIED:
    the hotline of the message that triggered the finding). ``parties`` are the parties
    concerned, to whom (and to exercise control) the alert goes.
    """

    alert: acknowledgments_pb2.Alert
    domain: common_pb2.Domain.ValueType
    parties: tuple[str, ...]


@dataclass(frozen=True)
class TrackedUnit:
    """A unit's last report, and whether it is too old to be extrapolated."""

    party: str
    position: positions_pb2.UnitPosition
    stale: bool


@dataclass(frozen=True)
class Picture:
    """What the engine knows at one instant.

    ``open_alerts`` are the alerts of episodes still under way: incursions not yet
    cleared, separation breaches and predicted conflicts whose pair has not separated.
    They are the very messages returned in the findings that opened them, so an
    ``alert_id`` the caller assigned there shows here too.
    """

    active_zones: tuple[zones_pb2.Zone, ...]
    """Accepted zones in effect now."""
    accepted_zones: tuple[zones_pb2.Zone, ...]
    """All accepted zones, in effect now or not (e.g. a window that opens later)."""
    proposed_zones: tuple[zones_pb2.Zone, ...]
    units: Mapping[str, tuple[TrackedUnit, ...]]
    """Last known units by party."""
    open_alerts: tuple[acknowledgments_pb2.Alert, ...]


def alert(
    kind: acknowledgments_pb2.AlertKind.ValueType,
    summary: str,
    *,
    unit_ids: tuple[str, ...] = (),
    zone_ids: tuple[str, ...] = (),
    parties: tuple[str, ...] = (),
    location: tuple[float, float] | None = None,
    distance_m: float = 0.0,
    time_to_cpa_s: float = 0.0,
) -> acknowledgments_pb2.Alert:
    """An Alert message with the fields the engine fills."""
    message = acknowledgments_pb2.Alert(
        kind=kind,
        summary=summary,
        unit_ids=unit_ids,
        zone_ids=zone_ids,
        parties=parties,
        distance_m=distance_m,
        time_to_cpa_s=time_to_cpa_s,
    )
    if location is not None:
        message.location.latitude, message.location.longitude = location
    return message


def parties_of(*parties: str) -> tuple[str, ...]:
    """The distinct parties, in first-seen order."""
    return tuple(dict.fromkeys(parties))
