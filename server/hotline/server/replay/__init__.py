"""Replay of a recorded exercise, read-only: the records of a stored log, filtered and
played back at their original pace scaled by a speed factor.

:class:`Player` is pure (records from any iterable, time from an injected
:class:`Clock`); reading and verifying the log is the caller's part (see
``hotline replay``).
"""

from hotline.server.replay.filters import Selection, parties, recorded_at
from hotline.server.replay.player import Clock, Played, Player, SystemClock

__all__ = ["Clock", "Played", "Player", "Selection", "SystemClock", "parties", "recorded_at"]
