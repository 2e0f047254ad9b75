"""One pass over a recorded exercise that gathers everything the report shows.

Each record is parsed once by the caller and read once here; every part below keeps
only what it needs (open messages, the worst few, the first few hundred lines, the
tracks for the map), so a log of millions of records is read in one streaming pass
with no work that grows with the square of its length.
"""

from __future__ import annotations

from collections.abc import Iterable

from hotline.contract import seconds
from hotline.server.review.annotations import TrainerNotes
from hotline.server.review.answers import AnswerTracker, MessageOutcome
from hotline.server.review.escalations import EscalationRegister
from hotline.server.review.incidents import IncidentTable
from hotline.server.review.latency import LatencyStatistics
from hotline.server.review.markup import hotline_name
from hotline.server.review.picture import Picture
from hotline.server.review.suspensions import SuspensionWindows
from hotline.server.review.timeline import Timeline
from hotline.v1 import exercise_pb2, log_pb2

__all__ = ["ExerciseReview"]

#: Bodies the picture takes in (it ignores every other record).
_GEOGRAPHIC = frozenset({"position_report", "zone_status", "alert"})


class ExerciseReview:
    """Everything gathered from one log; build it with :meth:`of`."""

    def __init__(self) -> None:
        self.picture = Picture()
        self.statistics = LatencyStatistics(hotline_name)
        self.escalations = EscalationRegister()
        self.incidents = IncidentTable()
        self.notes = TrainerNotes()
        self.suspensions = SuspensionWindows()
        self.answers = AnswerTracker(self._settled)
        self.timeline = Timeline(self.answers.needs_response)
        #: The exercise as the server first recorded it, and how often it (re)started.
        self.exercise: exercise_pb2.Exercise | None = None
        self.starts = 0
        self.records = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        #: Server time of the last record the verified checkpoint covers.
        self.signed_at: float | None = None

    @classmethod
    def of(
        cls, records: Iterable[tuple[int, log_pb2.LogRecord]], signed_size: int = 0
    ) -> ExerciseReview:
        """Reads ``(index, record)`` pairs in log order. ``signed_size`` is the size of
        the verified checkpoint, whose last record's time the report shows."""
        review = cls()
        picture, incidents, notes = review.picture, review.incidents, review.notes
        answers, timeline = review.answers, review.timeline
        signed_last = signed_size - 1
        at = 0.0
        for index, record in records:
            at = seconds(record.recorded_at)
            if review.first_at is None:
                review.first_at = at
            review.records += 1
            if index == signed_last:
                review.signed_at = at
            payload = record.WhichOneof("payload") or ""
            body = ""
            if payload == "envelope":
                body = record.envelope.WhichOneof("body") or ""
                if body in _GEOGRAPHIC:
                    picture.add(index, record)
                incidents.add(index, record, at, body)
            elif payload == "exercise":
                review.starts += 1
                if review.exercise is None:
                    review.exercise = record.exercise
            elif payload == "annotation" and record.kind == log_pb2.RECORD_KIND_ANNOTATION:
                notes.add(index, record, at)
            review.suspensions.add(index, record, at, body)
            answers.add(index, record, at, payload, body)
            timeline.add(index, record, at, payload, body)
        if review.first_at is not None:
            review.last_at = at
        answers.finish(at)
        return review

    def _settled(self, outcome: MessageOutcome) -> None:
        self.statistics.add(outcome)
        self.escalations.add(outcome)
