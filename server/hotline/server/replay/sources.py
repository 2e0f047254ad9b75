"""Where a replay reads its records: a window ``read(start, end)`` it can call again.

A controllable replay seeks backwards as well as forwards, so it does not consume one
iterator: it asks its :class:`Source` for the records ``start <= index < end`` a chunk at
a time, and asks again from wherever a seek puts it. A short or empty answer means the
log ends there.
"""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Protocol

from hotline.server.errors import FailedPrecondition
from hotline.server.storage import Backend, StoredRecord

__all__ = ["CHUNK", "BackendSource", "InMemory", "ReaderSource", "Source", "Streamed", "source_of"]

#: Records asked for at once: large enough that a fast replay is not held up by the
#: store's round trips, small enough that a seek wastes little.
CHUNK = 1024


class Source(Protocol):
    """The records of a log, by index window, in index order."""

    async def read(self, start: int, end: int) -> Sequence[StoredRecord]:
        """Records with ``start <= index < end``; fewer (or none) past the log's end."""
        ...


class InMemory:
    """Records held in a list (tests, small logs), looked up by index."""

    def __init__(self, records: Iterable[StoredRecord]) -> None:
        self._records = sorted(records, key=lambda stored: stored.index)
        self._indexes = [stored.index for stored in self._records]

    async def read(self, start: int, end: int) -> Sequence[StoredRecord]:
        low = bisect.bisect_left(self._indexes, start)
        high = bisect.bisect_left(self._indexes, end)
        return self._records[low:high]


class Streamed:
    """Records from an iterator, read once in index order (``backend.read()`` as a
    one-way replay). The records of the last read are kept, so a seek may land anywhere
    from the start of that read on; a seek further back is refused."""

    def __init__(self, records: Iterable[StoredRecord]) -> None:
        self._records: Iterator[StoredRecord] = iter(records)
        # Read from the iterator and not yet passed by a later read, in index order.
        self._kept: list[StoredRecord] = []
        self._floor = 0

    async def read(self, start: int, end: int) -> Sequence[StoredRecord]:
        if start < self._floor:
            raise FailedPrecondition(
                f"seek: this replay reads its records once and cannot go back to {start}"
            )
        self._floor = start
        kept = [stored for stored in self._kept if stored.index >= start]
        while not kept or kept[-1].index < end - 1:
            stored = next(self._records, None)
            if stored is None:
                break
            if stored.index >= start:
                kept.append(stored)
        self._kept = kept
        return [stored for stored in kept if stored.index < end]


def source_of(records: Source | Iterable[StoredRecord]) -> Source:
    """``records`` as a source: a list is looked up in memory, another iterable is
    streamed once, a source is itself."""
    if isinstance(records, Sequence):
        return InMemory(records)
    if isinstance(records, Iterable):
        return Streamed(records)
    return records


class BackendSource:
    """A stored log read directly through its backend: for a command that owns the
    backend (``hotline replay LOG``), not for the running server, whose backend belongs
    to the writer thread (see :class:`ReaderSource`).

    ``end`` bounds the replay to the records stored when it began."""

    def __init__(self, backend: Backend, end: int | None = None) -> None:
        self._backend = backend
        self._end = end

    async def read(self, start: int, end: int) -> Sequence[StoredRecord]:
        if self._end is not None:
            end = min(end, self._end)
        # A chunk of a local file: reading it here is quicker than handing it to a thread.
        return list(self._backend.read(start, end))


class ReaderSource:
    """The running server's log, through a reader that does the work off the event loop
    (``Switchboard.records``: a worker thread on the log's own reader connection, the
    way a watcher's backlog is read while the writer thread appends).

    ``end`` bounds the replay to the records committed when it began: a review plays the
    exercise as it stood, and following new traffic is what ``Watch`` is for."""

    def __init__(
        self, read: Callable[[int, int], Awaitable[Sequence[StoredRecord]]], end: int
    ) -> None:
        self._read = read
        self._end = end

    @property
    def end(self) -> int:
        """One past the last index this source will read."""
        return self._end

    async def read(self, start: int, end: int) -> Sequence[StoredRecord]:
        end = min(end, self._end)
        if start >= end:
            return ()
        return await self._read(start, end)
