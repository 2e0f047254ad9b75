"""The trainer's controls of a replay, as plain data and arithmetic: speed steps, where the
replay stands, and the pacing that stays right across pauses and speed changes.

Pacing is kept as an anchor: at clock reading ``clock`` the replay stood at ``elapsed``
original seconds, and it advances ``speed`` original seconds per clock second from
there. Every control that changes the pace first takes the current position from the
old anchor, then anchors the new pace there; a pause keeps only the position. So a
pause holds the exercise still, and doubling the speed halves what is left of a wait.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["FASTEST_PACED", "SLOWEST", "Pacing", "PlayerState", "check_speed", "faster", "slower"]

#: Where slowing down from "as fast as possible" (speed 0) starts.
FASTEST_PACED = 64.0
#: The slowest pace: halving stops here.
SLOWEST = 1 / 64


def check_speed(speed: float) -> float:
    """``speed`` if it is 0 (no waiting) or a positive finite factor; raises
    ``ValueError`` otherwise."""
    if not math.isfinite(speed) or speed < 0:
        raise ValueError(f"the speed must be 0 (no waiting) or more, not {speed}")
    return speed


def faster(speed: float) -> float:
    """Twice as fast; "as fast as possible" (0) stays so."""
    return 0.0 if speed == 0 else speed * 2


def slower(speed: float) -> float:
    """Half as fast, down to :data:`SLOWEST`; from "as fast as possible" (0), the
    fastest paced speed, :data:`FASTEST_PACED`."""
    if speed == 0:
        return FASTEST_PACED
    return max(speed / 2, SLOWEST)


@dataclass(frozen=True, slots=True)
class PlayerState:
    """Where a replay stands, as a front end shows it.

    ``next_index`` is the record to play next (the read position until that record has
    been found); ``at_end`` says no selected record is left from there; ``played``
    counts the records shown so far.
    """

    paused: bool
    speed: float
    next_index: int
    at_end: bool
    played: int


class Pacing:
    """When each record is due, as original seconds ``elapsed`` map to clock readings.

    Without an anchor (before the first record, after a seek, while paused or at speed
    0) the next record is due at once; :meth:`position` is then the last one set.
    """

    def __init__(self, speed: float) -> None:
        self.speed = check_speed(speed)
        self._anchor: tuple[float, float] | None = None
        self._position: float | None = None

    def position(self, now: float) -> float | None:
        """The replay's position in original seconds at clock reading ``now``; ``None``
        before anything was played."""
        if self._anchor is None:
            return self._position
        clock, elapsed = self._anchor
        return elapsed + (now - clock) * self.speed

    def due(self, elapsed: float) -> float | None:
        """The clock reading at which the record at ``elapsed`` is due, ``None`` for at
        once."""
        if self._anchor is None:
            return None
        clock, anchored = self._anchor
        return clock + (elapsed - anchored) / self.speed

    def played(self, elapsed: float, now: float, running: bool) -> None:
        """A record at ``elapsed`` was shown at ``now``; the first after an unanchored
        stretch anchors the pace (if the replay runs on at a paced speed)."""
        if self._anchor is None:
            self._position = elapsed
            self.anchor(now, running)

    def hold(self, now: float) -> None:
        """Stops the clock of the replay where it stands (pause, speed change)."""
        self._position = self.position(now)
        self._anchor = None

    def anchor(self, now: float, running: bool) -> None:
        """Starts the clock again from where it was held, if running at a paced speed."""
        if running and self.speed > 0 and self._position is not None:
            self._anchor = (now, self._position)
        else:
            self._anchor = None

    def set_speed(self, speed: float, now: float, running: bool) -> None:
        self.hold(now)
        self.speed = check_speed(speed)
        self.anchor(now, running)

    def restart(self) -> None:
        """After a seek: the next record plays at once and anchors the pace there."""
        self._anchor = None
        self._position = None
