"""Escalation chains: what happened to each message whose answer did not come in time.

A chain (``DOMAIN.md`` §2, "Acknowledgment and escalation") starts with the message and
follows what the server recorded: a RECEIPT missed (re-delivered, or the sender told the
station is offline), the response deadline missed (ACK_OVERDUE, the standby paged), the
escalation deadline missed (ESCALATED, the copy re-sent on GENERALS, or exercise control
alerted), and the answer that ended it, with its lateness — or the end of the log.

Every chain is counted; the ``keep`` most serious are kept for the report (escalated
before overdue before a missed RECEIPT, earlier before later), so the report stays the
same size however many messages went unanswered.
"""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass

from hotline.server.review.answers import MessageOutcome, Severity
from hotline.server.review.markup import duration

__all__ = ["EscalationChain", "EscalationRegister"]


@dataclass(frozen=True, slots=True)
class EscalationChain:
    """One message's way down the chain; ``outcome.steps`` are its events in log order."""

    outcome: MessageOutcome

    @property
    def severity(self) -> int:
        return self.outcome.severity

    @property
    def label(self) -> str:
        """``escalated``, ``overdue`` or ``receipt missed``."""
        return {
            Severity.ESCALATED: "escalated",
            Severity.OVERDUE: "overdue",
            Severity.RECEIPT_MISSED: "receipt missed",
        }.get(self.severity, "")

    @property
    def ended(self) -> str:
        """How the chain ended, in a few words."""
        outcome = self.outcome
        if outcome.first_compliance is not None:
            at, party = outcome.first_compliance
            return f"answered by {party} after {duration(at - outcome.at)}"
        if outcome.open_at is not None:
            return "still unanswered when the log ended"
        if outcome.needs_response:
            return "answered UNABLE"
        return "received"


class EscalationRegister:
    """Takes every :class:`MessageOutcome`; keeps the chains worth showing."""

    def __init__(self, keep: int = 60) -> None:
        self._keep = keep
        # Min-heap of (severity, -index, chain): the most serious, earliest first.
        self._kept: list[tuple[int, int, EscalationChain]] = []
        #: Chains by severity (every one, kept or not).
        self.counts: Counter[int] = Counter()

    def add(self, outcome: MessageOutcome) -> None:
        if outcome.severity == Severity.NONE:
            return
        self.counts[outcome.severity] += 1
        entry = (outcome.severity, -outcome.index, EscalationChain(outcome))
        if len(self._kept) < self._keep:
            heapq.heappush(self._kept, entry)
        elif entry[:2] > self._kept[0][:2]:
            heapq.heapreplace(self._kept, entry)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def chains(self) -> list[EscalationChain]:
        """The kept chains in log order of their messages."""
        return [chain for _, _, chain in sorted(self._kept, key=lambda e: -e[1])]
