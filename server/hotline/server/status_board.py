"""The status board exercise control reads (``ExerciseService.GetStatus``): each
station's consoles, line and answers owed and given, and each hotline's traffic and time
lost. Views of the switchboard's state, built when asked for; nothing here changes it."""

from __future__ import annotations

from collections.abc import Mapping

from hotline.contract import duration, timestamp
from hotline.server.acknowledgments import AckTracker, LineStats, SeatAnswers
from hotline.server.consoles import Console
from hotline.server.exercise import HOTLINES, Exercise, Hotline, station_proto
from hotline.v1 import exercise_pb2

__all__ = ["hotline_statuses", "station_statuses"]


def station_statuses(
    exercise: Exercise,
    consoles: Mapping[Hotline, Mapping[str, set[Console]]],
    tracker: AckTracker,
) -> list[exercise_pb2.StationStatus]:
    """Every station of ``exercise``: its connected consoles by seat, whether its line
    answers, what it owes and who answered for it."""
    out = []
    for station in exercise.stations:
        connected = consoles[station.hotline].get(station.party, set())
        standby = sum(1 for c in connected if c.is_standby)
        seats = tracker.seats.get((station.party, station.hotline), SeatAnswers())
        status = exercise_pb2.StationStatus(
            station=station_proto(station),
            online=bool(connected),
            primary_consoles=len(connected) - standby,
            standby_consoles=standby,
            line_up=not tracker.is_line_down(station.party, station.hotline),
            awaiting_response=sum(
                1 for m in tracker.owed_by(station.party, station.hotline) if m.needs_response
            ),
            answered_by_primary=seats.primary,
            answered_by_standby=seats.standby,
        )
        if connected:
            status.last_seen.CopyFrom(timestamp(max(c.last_seen for c in connected)))
        out.append(status)
    return out


def hotline_statuses(
    tracker: AckTracker, suspended: Mapping[Hotline, str], last_sequence: Mapping[Hotline, int]
) -> list[exercise_pb2.HotlineStatus]:
    """Every hotline: suspended or not, its last sequence number, answers, overdue and
    escalated messages and the time lost waiting for answers."""
    out = []
    for hotline in HOTLINES:
        stats = tracker.stats.get(hotline, LineStats())
        lost = stats.time_lost
        status = exercise_pb2.HotlineStatus(
            hotline=hotline,
            suspended=hotline in suspended,
            last_sequence=last_sequence[hotline],
            answered=lost.count,
            overdue=stats.overdue,
            escalated=stats.escalated,
        )
        if lost.count:
            status.median_time_lost.CopyFrom(duration(lost.median()))
            status.worst_time_lost.CopyFrom(duration(lost.worst))
        out.append(status)
    return out
