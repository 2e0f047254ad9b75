"""Which records a replay shows: a window by index or time, and hotline, party, kind.

A :class:`Selection` is plain data built once from the trainer's options; it reads the
stored columns (kind, hotline) before parsing, and the record itself for time and party.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from hotline.contract import seconds
from hotline.server.storage import StoredRecord
from hotline.v1 import log_pb2

__all__ = ["Selection", "parties", "recorded_at"]


def recorded_at(record: log_pb2.LogRecord) -> float:
    """The record's server time, in UNIX seconds."""
    return seconds(record.recorded_at)


def parties(record: log_pb2.LogRecord) -> frozenset[str]:
    """The parties a record was sent by or concerns: the actor's party, an envelope's
    sender, audience and responder, the station that missed a deadline or connected.

    Only parties the record names count: a message to the whole line (no audience)
    concerns its sender, not everyone who was on the line."""
    found = {record.actor.partition("/")[0]}
    payload = record.WhichOneof("payload")
    if payload == "envelope":
        envelope = record.envelope
        found |= {envelope.sender.party, *envelope.audience}
        if envelope.WhichOneof("body") == "acknowledgment":
            found.add(envelope.acknowledgment.responder.party)
    elif payload == "deadline_missed":
        found.add(record.deadline_missed.station.party)
    elif payload == "station_session":
        found.add(record.station_session.station.party)
    return frozenset(found - {""})


@dataclass(frozen=True, slots=True)
class Selection:
    """The records to replay.

    Windows include their start and exclude their end: ``from_index=10, to_index=20``
    is records 10 to 19, ``from_time``/``to_time`` are UNIX seconds of server time.
    Empty ``hotlines``, ``parties`` or ``kinds`` mean all; several values mean any of
    them. Parties are matched as written in the log (``BLUE``, ``RED``).
    """

    from_index: int | None = None
    to_index: int | None = None
    from_time: float | None = None
    to_time: float | None = None
    hotlines: Collection[int] = ()
    parties: Collection[str] = ()
    kinds: Collection[int] = ()

    def admits_stored(self, stored: StoredRecord) -> bool:
        """Whether the stored columns alone leave the record in (index, hotline, kind)."""
        if self.from_index is not None and stored.index < self.from_index:
            return False
        if self.to_index is not None and stored.index >= self.to_index:
            return False
        if self.hotlines and stored.hotline not in self.hotlines:
            return False
        return not (self.kinds and stored.kind not in self.kinds)

    def needs_record(self) -> bool:
        """Whether :meth:`admits` has to read the record (time or party filters)."""
        return self.from_time is not None or self.to_time is not None or bool(self.parties)

    def admits(self, record: log_pb2.LogRecord) -> bool:
        """Whether a parsed record (already past :meth:`admits_stored`) is shown."""
        at = recorded_at(record)
        if self.from_time is not None and at < self.from_time:
            return False
        if self.to_time is not None and at >= self.to_time:
            return False
        return not (self.parties and parties(record).isdisjoint(self.parties))

    def past_end(self, stored: StoredRecord) -> bool:
        """Whether no record from this one on can be shown (the index window is over)."""
        return self.to_index is not None and stored.index >= self.to_index
