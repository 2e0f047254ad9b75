"""The message an inject sends: the scenario's body with its ids, sender and times set,
an activity notice's window placed after the inject, and a location moved off where the
scenario says so."""

from __future__ import annotations

from hotline.cli.scenario.clock import ScenarioClock
from hotline.contract import timestamp
from hotline.server.deconfliction.geodesy import destination
from hotline.server.scenario import Inject, inject_message_id
from hotline.v1 import common_pb2, envelope_pb2, zones_pb2


def inject_envelope(inject: Inject, run_id: str, clock: ScenarioClock) -> envelope_pb2.Envelope:
    """The envelope of a message inject of run ``run_id``, written now."""
    assert inject.envelope is not None
    assert inject.station is not None
    message = envelope_pb2.Envelope()
    message.CopyFrom(inject.envelope)
    message.message_id = inject_message_id(run_id, inject.inject_id)
    message.sender.CopyFrom(
        common_pb2.StationRef(party=inject.station.party, hotline=inject.station.hotline)
    )
    message.hotline = inject.station.hotline
    now = clock.now()
    message.sent_at.CopyFrom(timestamp(clock.wall(now)))
    body = message.WhichOneof("body")
    if body == "activity_notice":
        notice = message.activity_notice
        notice.window_start.CopyFrom(timestamp(clock.wall(now + inject.window_opens)))
        notice.window_end.CopyFrom(
            timestamp(clock.wall(now + inject.window_opens + inject.window_lasts))
        )
        if inject.location_off_m:
            _move(notice.area, inject.off_bearing_deg, inject.location_off_m)
    elif body == "position_report":
        for position in message.position_report.positions:
            if not position.HasField("observed_at"):
                position.observed_at.CopyFrom(message.sent_at)
    elif body == "stop_request" and inject.location_off_m:
        _move(message.stop_request.area, inject.off_bearing_deg, inject.location_off_m)
    return message


def _move(area: zones_pb2.Geometry, bearing: float, distance: float) -> None:
    """Moves every point of ``area`` ``distance`` metres towards ``bearing``."""
    shape = area.WhichOneof("shape")
    if shape == "circle":
        points = [area.circle.center]
    elif shape == "polygon":
        points = list(area.polygon.vertices)
    elif shape == "corridor":
        points = list(area.corridor.path)
    else:
        return
    for point in points:
        point.latitude, point.longitude = destination(
            point.latitude, point.longitude, bearing, distance
        )
