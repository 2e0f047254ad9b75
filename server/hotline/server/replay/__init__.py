"""Replay of a recorded exercise, read-only: the records of a stored log, filtered and
played back at their original pace scaled by a speed factor.

:class:`Player` is pure (records from a re-readable :class:`Source` or any iterable,
time from an injected :class:`Clock`) and steerable: pause, step, speed, seek, jump to
a :class:`Bookmarks` name. Reading and verifying the log is the caller's part (see
``hotline replay`` and the gRPC ``ReplayService``).

:mod:`.reevaluate` (the recorded traffic fed through today's deconfliction checks) is
imported by name: it loads the deconfliction engine, which a plain replay, and each of
the processes a long one is shared out to, can do without.
"""

from hotline.server.replay.bookmarks import Bookmarks
from hotline.server.replay.control import PlayerState
from hotline.server.replay.filters import Selection, parties, recorded_at
from hotline.server.replay.player import Clock, Played, Player, SystemClock
from hotline.server.replay.sources import BackendSource, InMemory, ReaderSource, Source

__all__ = [
    "BackendSource",
    "Bookmarks",
    "Clock",
    "InMemory",
    "Played",
    "Player",
    "PlayerState",
    "ReaderSource",
    "Selection",
    "Source",
    "SystemClock",
    "parties",
    "recorded_at",
]
