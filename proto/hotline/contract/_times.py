"""Times: ``google.protobuf.Timestamp`` and ``Duration`` to and from UNIX seconds.

Everything inside the service counts in float seconds; messages carry whole seconds
and nanoseconds. Both ways are exact to the float's precision: a fraction of a
microsecond for a time of today, a nanosecond for a duration of minutes.
"""

from __future__ import annotations

import time

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

_NANOS = 1_000_000_000


def timestamp(at: float | None = None) -> Timestamp:
    """``at`` (UNIX seconds; now when None) as a Timestamp."""
    stamp = Timestamp()
    set_timestamp(stamp, time.time() if at is None else at)
    return stamp


def set_timestamp(stamp: Timestamp, at: float) -> None:
    """Sets ``stamp`` to ``at`` (UNIX seconds) in place: cheaper than building one and
    copying it into the message that holds it."""
    stamp.seconds, stamp.nanos = divmod(round(at * 1e9), _NANOS)


def duration(length: float) -> Duration:
    """``length`` seconds as a Duration."""
    message = Duration()
    message.FromNanoseconds(round(length * 1e9))
    return message


def seconds(stamp: Timestamp | Duration) -> float:
    """A Timestamp as UNIX seconds, or a Duration as seconds; 0.0 when unset."""
    return stamp.seconds + stamp.nanos / 1e9
