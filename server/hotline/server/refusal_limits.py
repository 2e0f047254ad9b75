"""How many refused requests of one source are recorded one by one.

Every refusal is answered, and every refusal is recorded, but a source that floods the
server with bad requests (garbage bytes, a station stuck in a loop) must not grow the
log without bound. Each source — a station, or for a caller without a valid credential
its connection — has a token bucket: :data:`BURST` refusals recorded at once, then
:data:`PER_SECOND`. A refusal over that budget is counted, not recorded; the count goes
into the next record of that source (see :func:`suppressed_note`), and if no refusal
comes to carry it, the last refusal counted is recorded itself, late, as soon as the
budget allows (a timer of the event loop). So the log holds at most ``BURST`` records
plus ``PER_SECOND`` a second per source, and their counts add up to every refusal.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from hotline.server.errors import Unavailable

log = logging.getLogger(__name__)

__all__ = ["BURST", "PER_SECOND", "RefusalGate", "Write", "suppressed_note"]

#: Refusals of one source recorded one by one before the rate applies.
BURST = 20
#: Refusals of one source recorded one by one per second after a burst.
PER_SECOND = 5.0
#: Sources tracked at once; beyond, new sources share one budget.
MAX_SOURCES = 10_000
#: The source of refusals beyond :data:`MAX_SOURCES`.
OVERFLOW = "(too many sources at once)"

#: Records one refusal, with the number of refusals of its source not recorded since
#: the last record of that source.
Write = Callable[[int], None]
#: Calls back after a delay (seconds); returns what cancels it, None if it cannot.
Later = Callable[[float, Callable[[], None]], "asyncio.TimerHandle | None"]


def suppressed_note(source: str, count: int) -> str:
    """The text a refusal record's detail ends with when ``count`` refusals of
    ``source`` before it were not recorded one by one (empty for none)."""
    if not count:
        return ""
    plural = "" if count == 1 else "s"
    return (
        f" [{count} more refusal{plural} of {source} not recorded one by one: over "
        f"{BURST} at once or {PER_SECOND:g} a second]"
    )


def _call_later(delay: float, callback: Callable[[], None]) -> asyncio.TimerHandle | None:
    try:
        return asyncio.get_running_loop().call_later(delay, callback)
    except RuntimeError:
        # No event loop (a synchronous caller): the count waits for the next refusal.
        return None


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float
    suppressed: int = 0
    #: The last refusal not recorded, to record late if no other comes to carry the count.
    latest: Write | None = None
    flush: asyncio.TimerHandle | None = None


class RefusalGate:
    """Token buckets per source of refusals (see the module's docstring)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        later: Later = _call_later,
        *,
        burst: int = BURST,
        per_second: float = PER_SECOND,
        max_sources: int = MAX_SOURCES,
    ) -> None:
        self._clock = clock
        self._later = later
        self._burst = float(burst)
        self._rate = per_second
        self._max_sources = max_sources
        self._buckets: dict[str, _Bucket] = {}
        self._swept_at = -1.0

    def offer(self, source: str, write: Write) -> None:
        """Calls ``write`` now, with the count of refusals of ``source`` not recorded
        since its last record, if its budget allows; otherwise counts it."""
        now = self._clock()
        source, bucket = self._bucket(source, now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            count, bucket.suppressed, bucket.latest = bucket.suppressed, 0, None
            if bucket.flush is not None:
                bucket.flush.cancel()
                bucket.flush = None
            write(count)
            return
        bucket.suppressed += 1
        bucket.latest = write
        if bucket.flush is None:
            wait = (1.0 - bucket.tokens) / self._rate
            bucket.flush = self._later(wait, lambda: self._flush(source))

    def pending(self) -> int:
        """Refusals counted and not yet recorded, of every source."""
        return sum(bucket.suppressed for bucket in self._buckets.values())

    def close(self) -> None:
        """Cancels the late records still to come; what they would have counted is
        written to the server's log."""
        for source, bucket in self._buckets.items():
            if bucket.flush is not None:
                bucket.flush.cancel()
                bucket.flush = None
            if bucket.suppressed:
                log.warning("%d refusals of %s were not recorded", bucket.suppressed, source)
        self._buckets.clear()

    def _bucket(self, source: str, now: float) -> tuple[str, _Bucket]:
        """The source's bucket, filled up to ``now`` (the shared one if too many)."""
        bucket = self._buckets.get(source)
        if bucket is None and len(self._buckets) >= self._max_sources:
            self._sweep(now)
            if len(self._buckets) >= self._max_sources:
                source = OVERFLOW
                bucket = self._buckets.get(source)
        if bucket is None:
            bucket = self._buckets[source] = _Bucket(self._burst, now)
        else:
            self._fill(bucket, now)
        return source, bucket

    def _fill(self, bucket: _Bucket, now: float) -> None:
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.at) * self._rate)
        bucket.at = now

    def _sweep(self, now: float) -> None:
        """Forgets the sources whose budget is whole again and that owe no record: a
        new bucket would be the same. At most once a second."""
        if now - self._swept_at < 1.0:
            return
        self._swept_at = now
        full = self._burst / self._rate
        idle = [
            source
            for source, bucket in self._buckets.items()
            if bucket.latest is None and now - bucket.at >= full
        ]
        for source in idle:
            del self._buckets[source]

    def _flush(self, source: str) -> None:
        """Records the last refusal not recorded of ``source``, with the count of the
        others, once its budget allows."""
        bucket = self._buckets.get(source)
        if bucket is None:
            return
        bucket.flush = None
        write = bucket.latest
        if write is None:
            return
        self._fill(bucket, self._clock())
        if bucket.tokens < 1.0:
            # Woken early (the loop's clock is not ours): wait for the token.
            wait = (1.0 - bucket.tokens) / self._rate
            bucket.flush = self._later(wait, lambda: self._flush(source))
            return
        bucket.tokens -= 1.0
        count, bucket.suppressed, bucket.latest = bucket.suppressed - 1, 0, None
        try:
            write(count)
        except Unavailable:
            log.warning("%d refusals of %s not recorded: the log is closed", count + 1, source)
