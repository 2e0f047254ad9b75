"""Plays stored records back at their original pace, scaled by a speed factor.

The player is pure: records come from any iterable (a backend's ``read()``, a list in a
test), time from an injected :class:`Clock`. Pacing follows the records' own server
time (``LogRecord.recorded_at``, inside the hashed bytes), measured from the first record
shown, so a filtered replay keeps the original gaps between the records it shows.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import DecodeError

from hotline.server.replay.filters import Selection, recorded_at
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
    Raises ``ValueError`` for a negative or non-finite speed.
    """

    def __init__(
        self,
        records: Iterable[StoredRecord],
        *,
        speed: float = 1.0,
        selection: Selection | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not math.isfinite(speed) or speed < 0:
            raise ValueError(f"the speed must be 0 (no waiting) or more, not {speed}")
        self._records = records
        self._speed = speed
        self._selection = selection or Selection()
        self._clock = clock or SystemClock()

    def __aiter__(self) -> AsyncIterator[Played]:
        return self._play()

    async def _play(self) -> AsyncIterator[Played]:
        selection = self._selection
        # Server time of the first record shown, and the clock reading when it was.
        origin: float | None = None
        started = 0.0
        elapsed = 0.0
        for stored in self._records:
            if selection.past_end(stored):
                return
            if not selection.admits_stored(stored):
                continue
            try:
                record: log_pb2.LogRecord | None = log_pb2.LogRecord.FromString(stored.data)
            except DecodeError:
                record = None
            if record is None:
                # Its time and parties are unknown: shown only when nothing asks for them.
                if selection.needs_record():
                    continue
                yield Played(stored.index, None, elapsed)
                continue
            if not selection.admits(record):
                continue
            at = recorded_at(record)
            if origin is None:
                origin, started = at, self._clock.now()
            elapsed = at - origin
            if self._speed > 0:
                # A record stamped earlier than the one before (the server's clock was
                # stepped back) is shown at once rather than waited for.
                delay = started + elapsed / self._speed - self._clock.now()
                if delay > 0:
                    await self._clock.sleep(delay)
            yield Played(stored.index, record, elapsed)
