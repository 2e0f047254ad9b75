"""Exercise time for a scenario run: seconds after T+0, running ``time_scale`` times
faster than the wall clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class ScenarioClock:
    """Exercise seconds since the run started. ``monotonic`` is the wall clock the
    schedule follows (the event loop's by default); the server's deadlines run on a
    policy divided by the same scale, so both agree on exercise time."""

    def __init__(self, time_scale: float, monotonic: Callable[[], float] | None = None) -> None:
        self.time_scale = time_scale
        self._monotonic = monotonic or time.monotonic
        self._t0 = self._monotonic()
        #: The UNIX time of T+0, for the times written into messages.
        self.wall_t0 = time.time()

    def start(self) -> None:
        """Makes now T+0."""
        self._t0 = self._monotonic()
        self.wall_t0 = time.time()

    def now(self) -> float:
        """Exercise seconds since T+0."""
        return (self._monotonic() - self._t0) * self.time_scale

    def wall(self, at: float) -> float:
        """The UNIX time at which exercise second ``at`` falls."""
        return self.wall_t0 + at / self.time_scale

    def at_wall(self, unix: float) -> float:
        """The exercise second at which UNIX time ``unix`` falls."""
        return (unix - self.wall_t0) * self.time_scale

    async def until(self, at: float) -> None:
        """Returns once exercise second ``at`` is reached."""
        wait = at / self.time_scale - (self._monotonic() - self._t0)
        if wait > 0:
            await asyncio.sleep(wait)
