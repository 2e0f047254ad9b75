"""Trainer annotations: the notes and bookmarks exercise control left on the log.

A note written during the exercise is about the moment it was recorded; one written
after the fact names the record (``about_index``) or the moment (``about_time``) it is
about, and is shown there. Every note is counted; the first ``keep`` are listed.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.contract import seconds
from hotline.v1 import log_pb2

__all__ = ["Note", "TrainerNotes"]


@dataclass(frozen=True, slots=True)
class Note:
    """One annotation record."""

    index: int
    at: float
    hotline: int
    author: str
    text: str
    bookmark: str
    about_index: int | None
    about_time: float | None


class TrainerNotes:
    """Takes every record; keeps the annotations."""

    def __init__(self, keep: int = 300) -> None:
        self._keep = keep
        self.notes: list[Note] = []
        self.count = 0

    def add(self, index: int, record: log_pb2.LogRecord, at: float) -> None:
        """Takes in one record of kind ANNOTATION."""
        self.count += 1
        if len(self.notes) >= self._keep:
            return
        note = record.annotation
        about_time = None
        if note.HasField("about_time"):
            about_time = seconds(note.about_time)
        self.notes.append(
            Note(
                index,
                at,
                record.hotline,
                note.author,
                note.text,
                note.bookmark,
                note.about_index if note.HasField("about_index") else None,
                about_time,
            )
        )

    @property
    def hidden(self) -> int:
        return self.count - len(self.notes)
