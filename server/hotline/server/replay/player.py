"""Plays stored records back at their original pace, scaled by a speed factor, under the
trainer's controls: pause, resume, step, faster, slower, a set speed, seek, bookmarks.

The player is pure: records come from a :class:`~hotline.server.replay.sources.Source`
(or a list, or an iterator played once through), time from an injected :class:`Clock`.
Pacing follows the records' own server time (``LogRecord.recorded_at``, inside the
hashed bytes), measured from the first record shown, so a filtered replay keeps the
original gaps between the records it shows; :class:`~hotline.server.replay.control.Pacing` keeps it
right across pauses and speed changes.

One task iterates the player; controls are plain calls from any other task of the same
event loop. A control wakes the player out of its wait at once, and takes effect before
the next record.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import DecodeError

from hotline.server.errors import NotFound
from hotline.server.replay import control
from hotline.server.replay.bookmarks import Bookmarks
from hotline.server.replay.control import Pacing, PlayerState
from hotline.server.replay.filters import Selection, recorded_at
from hotline.server.replay.sources import CHUNK, Source, source_of
from hotline.server.storage import StoredRecord
from hotline.v1 import log_pb2

__all__ = ["Clock", "Played", "Player", "SystemClock"]


class Clock(Protocol):
    """Where the player reads the time and waits; tests pass a fake one."""

    def now(self) -> float:
        """Seconds on a monotonic scale."""

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: monotonic time and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True, slots=True)
class Played:
    """One record as replayed.

    ``record`` is ``None`` when the stored bytes are not a log record, which only an
    altered log played without verification can hold. ``elapsed`` is the record's
    server time less that of the first record shown (original seconds, not scaled).
    """

    index: int
    record: log_pb2.LogRecord | None
    elapsed: float


class Player:
    """Yields the selected records in log order, each when its scaled time comes.

    ``speed`` 1 is the original pace, 10 ten times faster; 0 plays without waiting.
    ``paused`` starts it paused (nothing plays before :meth:`resume` or :meth:`step`).
    At the end of the selection the iteration ends, unless ``hold_at_end``: then the
    player waits there for a seek or a jump back (a terminal view, which the trainer
    leaves when done). Elapsed times count from ``origin`` (server time, UNIX seconds),
    by default from the first record shown (a part of a longer replay passes the
    whole's). Raises ``ValueError`` for a negative or non-finite speed.
    """

    def __init__(
        self,
        records: Source | Iterable[StoredRecord],
        *,
        speed: float = 1.0,
        selection: Selection | None = None,
        clock: Clock | None = None,
        paused: bool = False,
        bookmarks: Bookmarks | None = None,
        hold_at_end: bool = False,
        origin: float | None = None,
    ) -> None:
        self._source = source_of(records)
        self._pacing = Pacing(speed)
        self._selection = selection or Selection()
        self._clock = clock or SystemClock()
        self._paused = paused
        self._stepping = False
        self.bookmarks = bookmarks or Bookmarks()
        self._hold_at_end = hold_at_end
        # Server time of the first record shown; elapsed times are measured from it.
        self._origin = origin
        # Records read but not yet looked at, from index ``_cursor`` on.
        self._buffer: deque[StoredRecord] = deque()
        self._cursor = self._selection.from_index or 0
        self._exhausted = False
        # Once looked ahead: the next record to show, or None when none is left.
        self._upcoming: Played | None = None
        self._looked_ahead = False
        self._last_elapsed = 0.0
        self._seeks = 0
        self._played = 0
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> PlayerState:
        """Where the replay stands now."""
        upcoming = self._upcoming
        return PlayerState(
            paused=self._paused,
            speed=self._pacing.speed,
            next_index=upcoming.index if upcoming is not None else self._cursor,
            at_end=self._looked_ahead and upcoming is None,
            played=self._played,
        )

    @property
    def origin(self) -> float | None:
        """The server time elapsed times count from; ``None`` before the first record."""
        return self._origin

    # ------------------------------------------------------------------ controls

    def pause(self) -> None:
        """Holds the replay where it stands; time spent paused is not played."""
        if not self._paused:
            self._pacing.hold(self._clock.now())
            self._paused = True
        self._stepping = False
        self._wake()

    def resume(self) -> None:
        """Plays on from where the replay was held, at its speed."""
        self._paused = self._stepping = False
        self._pacing.anchor(self._clock.now(), running=True)
        self._wake()

    def step(self) -> None:
        """Plays the next record at once, then stays paused."""
        if not self._paused:
            self._pacing.hold(self._clock.now())
            self._paused = True
        self._stepping = True
        self._wake()

    def set_speed(self, speed: float) -> None:
        """Plays on at ``speed`` from where the replay stands (0: without waiting).
        Raises ``ValueError`` for a negative or non-finite speed."""
        self._pacing.set_speed(speed, self._clock.now(), running=not self._paused)
        self._wake()

    def faster(self) -> None:
        """Twice the speed."""
        self.set_speed(control.faster(self._pacing.speed))

    def slower(self) -> None:
        """Half the speed."""
        self.set_speed(control.slower(self._pacing.speed))

    def seek(self, index: int) -> None:
        """Goes on from record ``index`` (forwards or backwards, read again from the
        source), shown at once; paused or not, as before. Records the selection leaves
        out are skipped as usual; past the end, the selection is over."""
        self._buffer.clear()
        self._cursor = max(index, self._selection.from_index or 0)
        self._exhausted = False
        self._upcoming = None
        self._looked_ahead = False
        self._seeks += 1
        self._pacing.restart()
        self._wake()

    def jump(self, bookmark: str) -> int:
        """Seeks to the record ``bookmark`` marks and returns its index. Raises
        :class:`~hotline.server.errors.NotFound` for a name no annotation gave."""
        try:
            index = self.bookmarks[bookmark]
        except KeyError:
            known = ", ".join(self.bookmarks) or "none yet"
            raise NotFound(
                f"jump_to_bookmark: no bookmark {bookmark!r} in this log (bookmarks: {known})"
            ) from None
        self.seek(index)
        return index

    def _wake(self) -> None:
        self._changed.set()

    # ------------------------------------------------------------------ playing

    def __aiter__(self) -> AsyncIterator[Played]:
        return self._play()

    async def _play(self) -> AsyncIterator[Played]:
        # Every await may let a control in, so after each one the loop starts over and
        # decides again from the state as it now is.
        while True:
            if not self._looked_ahead:
                await self._look_ahead()
                continue
            if self._paused and not self._stepping:
                await self._until_changed()
                continue
            upcoming = self._upcoming
            if upcoming is None:
                if not self._hold_at_end:
                    return
                # At the end, waiting for a seek or a jump back.
                self._stepping = False
                await self._until_changed()
                continue
            if not self._stepping and (due := self._due(upcoming)) is not None:
                delay = due - self._clock.now()
                # A record stamped earlier than the one before (the server's clock was
                # stepped back) is shown at once rather than waited for.
                if delay > 0:
                    await self._until_changed(delay)
                    continue
            self._upcoming = None
            self._looked_ahead = False
            self._cursor = upcoming.index + 1
            self._stepping = False
            self._played += 1
            self._last_elapsed = upcoming.elapsed
            self._pacing.played(upcoming.elapsed, self._clock.now(), running=not self._paused)
            yield upcoming

    async def runs(self) -> AsyncIterator[list[Played]]:
        """The selected records from where the player stands to the end, a run at a
        time (what one read of the source holds), without pacing and without controls:
        the quickest way through a log, for output nobody steers (``hotline replay
        --speed 0`` into a file or a pipe). Use it instead of iterating the player."""
        selection = self._selection
        buffered = list(self._buffer)
        self._buffer.clear()
        while not self._exhausted:
            chunk = buffered or await self._source.read(self._cursor, self._cursor + CHUNK)
            buffered = []
            if not chunk:
                break
            run: list[Played] = []
            for stored in chunk:
                if selection.past_end(stored):
                    self._exhausted = True
                    break
                if selection.admits_stored(stored) and (played := self._parse(stored)):
                    run.append(played)
            self._cursor = chunk[-1].index + 1
            if run:
                self._played += len(run)
                self._last_elapsed = run[-1].elapsed
                yield run
        self._exhausted = self._looked_ahead = True
        self._upcoming = None

    def _due(self, upcoming: Played) -> float | None:
        if upcoming.record is None or self._pacing.speed == 0:
            return None
        return self._pacing.due(upcoming.elapsed)

    async def _until_changed(self, seconds: float | None = None) -> None:
        """Waits for a control, or ``seconds`` of the clock, whichever is first."""
        self._changed.clear()
        if seconds is None:
            await self._changed.wait()
            return
        sleeping = asyncio.ensure_future(self._clock.sleep(seconds))
        controlled = asyncio.ensure_future(self._changed.wait())
        try:
            await asyncio.wait((sleeping, controlled), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (sleeping, controlled):
                waiter.cancel()
            await asyncio.gather(sleeping, controlled, return_exceptions=True)

    async def _look_ahead(self) -> None:
        """Finds the next record the selection shows, from the cursor on; a seek while
        the source is read makes the result void."""
        seeks = self._seeks
        selection = self._selection
        while True:
            if not self._buffer:
                if self._exhausted:
                    break
                chunk = await self._source.read(self._cursor, self._cursor + CHUNK)
                if seeks != self._seeks:
                    return
                if not chunk:
                    self._exhausted = True
                    break
                self._buffer.extend(chunk)
            stored = self._buffer.popleft()
            self._cursor = stored.index + 1
            if selection.past_end(stored):
                self._buffer.clear()
                self._exhausted = True
                break
            if not selection.admits_stored(stored):
                continue
            played = self._parse(stored)
            if played is not None:
                self._upcoming = played
                self._looked_ahead = True
                return
        self._upcoming = None
        self._looked_ahead = True

    def _parse(self, stored: StoredRecord) -> Played | None:
        """The record as played, or ``None`` if the selection leaves it out."""
        selection = self._selection
        try:
            record: log_pb2.LogRecord | None = log_pb2.LogRecord.FromString(stored.data)
        except DecodeError:
            record = None
        if record is None:
            # Its time and parties are unknown: shown only when nothing asks for them.
            if selection.needs_record():
                return None
            return Played(stored.index, None, self._last_elapsed)
        if selection.needs_record() and not selection.admits(record):
            return None
        at = recorded_at(record)
        if self._origin is None:
            self._origin = at
        return Played(stored.index, record, at - self._origin)
