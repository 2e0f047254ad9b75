"""The topic tree: where each log record is published, where position feeds come in.

Everything lives under ``hotline/<exercise id>/``; ``docs/mqtt.md`` is the reference.
A record is published on one topic, and records that carry a status (station sessions,
line state, hotline suspension) also on a retained topic, so a subscriber that joins
late sees the current state at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.server.errors import ConfigurationError
from hotline.server.exercise import Hotline, hotline_name
from hotline.v1 import acknowledgments_pb2, log_pb2

ROOT = "hotline"
_FORBIDDEN = frozenset("/+#\x00")
_LINE_ALERTS = frozenset(
    {acknowledgments_pb2.ALERT_KIND_LINE_DOWN, acknowledgments_pb2.ALERT_KIND_LINE_RESTORED}
)
_SESSIONS = frozenset(
    {log_pb2.RECORD_KIND_STATION_CONNECTED, log_pb2.RECORD_KIND_STATION_DISCONNECTED}
)
_SUSPENSIONS = frozenset(
    {log_pb2.RECORD_KIND_HOTLINE_SUSPENDED, log_pb2.RECORD_KIND_HOTLINE_RESUMED}
)
_PER_SCOPE = {
    log_pb2.RECORD_KIND_DEADLINE_MISSED: "deadline_missed",
    log_pb2.RECORD_KIND_REDELIVERED: "redelivered",
    log_pb2.RECORD_KIND_REQUEST_REFUSED: "refused",
    log_pb2.RECORD_KIND_ANNOTATION: "annotation",
}


@dataclass(frozen=True, slots=True)
class Route:
    topic: str
    retain: bool = False


def check_level(text: str, what: str) -> str:
    """``text`` if it can be one level of a topic; :class:`ConfigurationError` if not."""
    if not text or _FORBIDDEN & set(text):
        raise ConfigurationError(
            f"{what} {text!r} cannot be an MQTT topic level: it must be non-empty and "
            "hold no '/', '+', '#'"
        )
    return text


def scope(hotline: Hotline) -> str:
    """``air_operations``, ``ground_commanders``, ``generals``; ``exercise`` for none."""
    return hotline_name(hotline).lower() if hotline else "exercise"


class TopicTree:
    """The topics of one exercise."""

    def __init__(self, exercise_id: str) -> None:
        self.root = f"{ROOT}/{check_level(exercise_id, 'exercise id')}"
        #: Retained ``{"state": "online"|"offline"}`` of the bridge; also its last will.
        self.bridge = f"{self.root}/bridge"
        #: What the bridge subscribes to: every party's position feed.
        self.ingest = f"{self.root}/ingest/+/positions"
        self._ingest_prefix = f"{self.root}/ingest/"

    def routes(self, record: log_pb2.LogRecord) -> list[Route]:
        """Where ``record`` is published, first its event topic, then any status topic."""
        kind = record.kind
        where = f"{self.root}/{scope(record.hotline)}"
        if kind == log_pb2.RECORD_KIND_ENVELOPE:
            envelope = record.envelope
            body = envelope.WhichOneof("body") or "empty"
            if body != "alert":
                return [Route(f"{where}/{body}")]
            alert = envelope.alert
            name = acknowledgments_pb2.AlertKind.Name(alert.kind).removeprefix("ALERT_KIND_")
            routes = [Route(f"{self.root}/alerts/{name.lower()}")]
            if alert.kind in _LINE_ALERTS and alert.station.party:
                routes.append(Route(f"{where}/stations/{alert.station.party}/line", retain=True))
            return routes
        if kind in _SESSIONS:
            party = record.station_session.station.party
            return [Route(f"{where}/stations/{party}", retain=True)]
        if kind in _SUSPENSIONS:
            return [Route(f"{where}/status", retain=True)]
        if kind == log_pb2.RECORD_KIND_EXERCISE_STARTED:
            return [Route(f"{self.root}/exercise/started")]
        if kind == log_pb2.RECORD_KIND_SERVER_STOPPED:
            return [Route(f"{self.root}/exercise/stopped")]
        name = _PER_SCOPE.get(kind) or log_pb2.RecordKind.Name(kind).lower()
        return [Route(f"{where}/{name}")]

    def ingest_party(self, topic: str) -> str | None:
        """The party of an ingest topic ``.../ingest/<party>/positions``, else ``None``."""
        if not topic.startswith(self._ingest_prefix) or not topic.endswith("/positions"):
            return None
        party = topic[len(self._ingest_prefix) : -len("/positions")]
        return party if party and "/" not in party else None

    def ingest_topic(self, party: str) -> str:
        return f"{self.root}/ingest/{party}/positions"
