"""Bookmarks: names a trainer gave to moments of the exercise, to jump to in a replay.

A bookmark is an annotation record with a ``bookmark`` name. It marks the record the
annotation is about (``about_index``), else the first record at or after the moment it
is about (``about_time``), else the annotation record itself (a bookmark set live).
Nothing in the log is ever edited, so a name given again marks the newer target: the
annotation later in the log wins.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from hotline.contract import seconds
from hotline.server.replay.filters import recorded_at
from hotline.server.replay.sources import CHUNK, Source
from hotline.v1 import log_pb2

__all__ = ["Bookmarks", "marked_by"]


@dataclass(frozen=True, slots=True)
class _Definition:
    """What one annotation says a bookmark marks: an index, or a moment to look up."""

    annotation: int
    index: int | None
    moment: float | None


def marked_by(annotation_index: int, annotation: log_pb2.Annotation) -> int | float:
    """The record index a bookmark annotation marks, or, for one about a moment, that
    moment (UNIX seconds) for the caller to find in the log."""
    if annotation.HasField("about_index"):
        return annotation.about_index
    if annotation.HasField("about_time"):
        return seconds(annotation.about_time)
    return annotation_index


class Bookmarks(Mapping[str, int]):
    """The bookmarks of a log, by name, each with the index of the record it marks.

    Built by :meth:`scan`; :meth:`refresh` reads only what was appended since (a live
    log gains bookmarks while it is replayed). A bookmark about a moment after the last
    record marks nothing yet and is left out.
    """

    def __init__(self) -> None:
        self._definitions: dict[str, _Definition] = {}
        self._marks: dict[str, int] = {}
        self._scanned = 0

    @classmethod
    async def scan(cls, source: Source) -> Bookmarks:
        """The bookmarks of every record ``source`` holds."""
        bookmarks = cls()
        await bookmarks.refresh(source)
        return bookmarks

    async def refresh(self, source: Source) -> None:
        """Takes in the bookmarks of records appended since the last scan."""
        changed = False
        while chunk := await source.read(self._scanned, self._scanned + CHUNK):
            for stored in chunk:
                if stored.kind == log_pb2.RECORD_KIND_ANNOTATION:
                    changed |= self._take(stored.index, stored.data)
            self._scanned = chunk[-1].index + 1
        if changed or any(d.index is None for d in self._definitions.values()):
            await self._resolve(source)

    def _take(self, index: int, data: bytes) -> bool:
        try:
            record = log_pb2.LogRecord.FromString(data)
        except DecodeError:
            return False
        name = record.annotation.bookmark
        if not name:
            return False
        target = marked_by(index, record.annotation)
        if isinstance(target, int):
            self._definitions[name] = _Definition(index, target, None)
        else:
            self._definitions[name] = _Definition(index, None, target)
        return True

    async def _resolve(self, source: Source) -> None:
        """Finds the record each moment marks: the first, in log order, recorded at or
        after it (one pass over the log, only when some bookmark names a moment)."""
        marks = {n: d.index for n, d in self._definitions.items() if d.index is not None}
        moments = sorted(
            (d.moment, name)
            for name, d in self._definitions.items()
            if d.index is None and d.moment is not None
        )
        position = 0
        while moments and (chunk := await source.read(position, position + CHUNK)):
            for stored in chunk:
                try:
                    at = recorded_at(log_pb2.LogRecord.FromString(stored.data))
                except DecodeError:
                    continue
                # The moments are sorted, so those this record settles come first.
                while moments and moments[0][0] <= at:
                    marks[moments.pop(0)[1]] = stored.index
            position = chunk[-1].index + 1
        self._marks = dict(sorted(marks.items(), key=lambda item: (item[1], item[0])))

    def __getitem__(self, name: str) -> int:
        return self._marks[name]

    def __iter__(self) -> Iterator[str]:
        """Names in the order of the records they mark."""
        return iter(self._marks)

    def __len__(self) -> int:
        return len(self._marks)

    def after(self, index: int) -> str | None:
        """The first bookmark marking a record after ``index`` (wrapping to the first
        one), or ``None`` when there are none."""
        for name, marked in self._marks.items():
            if marked > index:
                return name
        return next(iter(self._marks), None)
