"""Acknowledgment latency and time lost, per hotline and per party.

For every message a station sent (escalated copies count as their original; the
server's own line tests, alerts and zone notices are not station traffic):

- **receipt latency**: from the message's record to each recipient's RECEIPT;
- **response latency**: from the message's record to each recipient's first WILCO,
  UNABLE or ROGER (through the GENERALS copy if it was escalated);
- **time lost** (``DOMAIN.md`` §2.6): from the message's record to its first WILCO or
  ROGER. A message with none when the log ended counts the time to the end of the log
  and is marked unanswered; a message answered only with UNABLE has no time lost;
- **past deadline**: how long past its response deadline an answer came (the lateness
  the server recorded), or, for an answer still missing, how long past the deadline
  the log ran on.

Per hotline, a message counts once; per party, each recipient counts for its own
answers. Statistics are :func:`summarize` of every value: the figures are exact,
however long the log; only the list of messages is cut to the worst ones.
"""

from __future__ import annotations

import heapq
import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hotline.server.review.answers import MessageOutcome

__all__ = [
    "LatencyRow",
    "LatencyStatistics",
    "Summary",
    "percentile",
    "summarize",
]


@dataclass(frozen=True, slots=True)
class Summary:
    """Count, median, 90th percentile and worst of some durations (seconds); the
    figures are ``None`` when there were none."""

    count: int
    median: float | None
    p90: float | None
    worst: float | None


def percentile(ordered: list[float], fraction: float) -> float:
    """The nearest-rank percentile of values sorted ascending: the smallest value with
    at least ``fraction`` of all values at or below it (for p90 of 10 values, the 9th).

    Always one of the values, never an interpolation: a trainer can find the message it
    came from. Raises :class:`ValueError` for no values or a fraction outside (0, 1].
    """
    if not ordered:
        raise ValueError("percentile of no values")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction {fraction} is not in (0, 1]")
    rank = math.ceil(fraction * len(ordered))
    return ordered[rank - 1]


def summarize(values: Iterable[float]) -> Summary:
    """Median (the mean of the two middle values for an even count, as
    :func:`statistics.median`), nearest-rank p90 and maximum of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return Summary(0, None, None, None)
    return Summary(len(ordered), statistics.median(ordered), percentile(ordered, 0.9), ordered[-1])


@dataclass(slots=True)
class _Samples:
    """Everything measured for one group (a hotline, a party, or all traffic)."""

    receipt: list[float] = field(default_factory=list)
    response: list[float] = field(default_factory=list)
    time_lost: list[float] = field(default_factory=list)
    past_deadline: list[float] = field(default_factory=list)
    messages: int = 0
    answered: int = 0
    late: int = 0
    unanswered: int = 0


@dataclass(frozen=True, slots=True)
class LatencyRow:
    """The figures of one group.

    ``messages`` that took an operator response; ``answered`` of them with WILCO or
    ROGER; ``late`` answers after the deadline; ``unanswered`` still owed an answer
    when the log ended. Per party, these count the party's own obligations."""

    group: str
    receipt: Summary
    response: Summary
    time_lost: Summary
    past_deadline: Summary
    messages: int
    answered: int
    late: int
    unanswered: int


def _row(group: str, samples: _Samples) -> LatencyRow:
    return LatencyRow(
        group,
        summarize(samples.receipt),
        summarize(samples.response),
        summarize(samples.time_lost),
        summarize(samples.past_deadline),
        samples.messages,
        samples.answered,
        samples.late,
        samples.unanswered,
    )


class LatencyStatistics:
    """Takes every :class:`MessageOutcome`; keeps the statistics of all of them and the
    ``keep`` messages that lost the most time."""

    def __init__(self, hotline_name: Callable[[int], str], keep: int = 50) -> None:
        self._hotline_name = hotline_name
        self._keep = keep
        self._all = _Samples()
        self._hotlines: dict[int, _Samples] = {}
        self._parties: dict[str, _Samples] = {}
        # Min-heap of (time lost, index, outcome): the worst ``keep`` messages.
        self._worst: list[tuple[float, int, MessageOutcome]] = []

    def add(self, outcome: MessageOutcome) -> None:
        line = self._hotlines.setdefault(outcome.hotline, _Samples())
        for obligation in outcome.obligations.values():
            party = self._parties.setdefault(obligation.party, _Samples())
            if obligation.receipt_at is not None:
                latency = obligation.receipt_at - outcome.at
                for group in (self._all, line, party):
                    group.receipt.append(latency)
            if not outcome.needs_response:
                continue
            party.messages += 1
            if obligation.response_at is not None:
                latency = obligation.response_at - outcome.at
                for group in (self._all, line, party):
                    group.response.append(latency)
            lost = outcome.party_time_lost(obligation)
            if lost is not None:
                party.time_lost.append(lost)
            past = outcome.party_past_deadline(obligation)
            party.past_deadline.append(past)
            party.late += obligation.lateness > 0
            party.answered += obligation.response_at is not None and lost is not None
            party.unanswered += obligation.response_at is None
        if not outcome.needs_response:
            return
        unanswered = any(o.response_at is None for o in outcome.obligations.values())
        late = any(o.lateness > 0 for o in outcome.obligations.values())
        lost = outcome.time_lost()
        past = outcome.past_deadline()
        for group in (self._all, line):
            group.messages += 1
            group.answered += outcome.answered
            group.late += late
            group.unanswered += unanswered
            group.past_deadline.append(past)
            if lost is not None:
                group.time_lost.append(lost)
        self._remember(outcome, -1.0 if lost is None else lost)

    def _remember(self, outcome: MessageOutcome, lost: float) -> None:
        entry = (lost, -outcome.index, outcome)
        if len(self._worst) < self._keep:
            heapq.heappush(self._worst, entry)
        elif entry[:2] > self._worst[0][:2]:
            heapq.heapreplace(self._worst, entry)

    @property
    def overall(self) -> LatencyRow:
        return _row("all hotlines", self._all)

    def by_hotline(self) -> list[LatencyRow]:
        """One row per hotline that carried station traffic, in hotline order."""
        return [_row(self._hotline_name(h), s) for h, s in sorted(self._hotlines.items())]

    def by_party(self) -> list[LatencyRow]:
        """One row per recipient party, by party id."""
        return [_row(p, s) for p, s in sorted(self._parties.items())]

    def worst_messages(self) -> list[MessageOutcome]:
        """The messages that lost the most time (unanswered ones count to the end of
        the log), worst first; ties in log order."""
        return [o for _, _, o in sorted(self._worst, key=lambda e: (-e[0], -e[1]))]

    @property
    def messages(self) -> int:
        """Messages that took an operator response."""
        return self._all.messages
