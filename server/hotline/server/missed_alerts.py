"""Deconfliction alerts a crash kept from being recorded, found again at start-up.

Position reports are checked beside the event loop (:mod:`hotline.server.checks_process`),
so their alerts are recorded a moment after the reports. A server killed in that moment
leaves a report in the log without its alert, and the engine's rebuilt picture would
not raise it again (the unit is already inside the zone, the pair already in breach).

At start-up the checks take in the whole log again, each record with the station message
that caused it. For the last run in the log, if it did not end with a recorded stop,
what they find is set against the deconfliction alerts that run recorded (by kind,
units, zones and cause); what is missing is raised late, in the order of its causes.
Only causes recorded within :data:`WINDOW_S` of the run's last record count: enough for
checks that lag by a few turns of the event loop, while a run made with the checks off
does not come back as a flood of old alerts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from hotline.contract import seconds
from hotline.server.checks import (
    DECONFLICTION_ALERTS,
    AlertKey,
    Cause,
    Finding,
    RaisedAlert,
    raised_alert,
)
from hotline.server.exercise import Hotline
from hotline.v1 import log_pb2

__all__ = ["WINDOW_S", "MissedAlerts"]

#: How far before the end of a crashed run a cause may lie and have its alerts raised.
WINDOW_S = 60.0


class MissedAlerts:
    """Follows the log as it is read back, and the findings about it."""

    def __init__(self, parties_on: Mapping[Hotline, frozenset[str]]) -> None:
        self._parties_on = parties_on
        self._run_started_at = float("-inf")
        self._last_at = float("-inf")
        self._stopped = False
        self._recorded: Counter[AlertKey] = Counter()
        self._found: list[tuple[Cause, list[Finding]]] = []

    def saw(self, record: log_pb2.LogRecord) -> None:
        """Takes one record read back, in log order."""
        at = seconds(record.recorded_at)
        self._last_at = at
        kind = record.kind
        if kind == log_pb2.RECORD_KIND_ENVELOPE:
            envelope = record.envelope
            if envelope.HasField("alert") and envelope.alert.kind in DECONFLICTION_ALERTS:
                self._recorded[AlertKey.of(envelope.alert)] += 1
        elif kind == log_pb2.RECORD_KIND_EXERCISE_STARTED:
            self._run_started_at = at
            self._stopped = False
            self._recorded.clear()
        elif kind == log_pb2.RECORD_KIND_SERVER_STOPPED:
            self._stopped = True

    def found(self, cause: Cause, findings: list[Finding]) -> None:
        """Takes what the checks found about a record read back."""
        if cause.at >= self._run_started_at:
            self._found.append((cause, findings))

    def missed(self) -> list[RaisedAlert]:
        """The alerts to raise now (call once every record read back was checked)."""
        if self._stopped:
            return []
        since = max(self._run_started_at, self._last_at - WINDOW_S)
        recorded = self._recorded.copy()
        missed: list[RaisedAlert] = []
        for cause, findings in self._found:
            if cause.at < since:
                continue
            for finding in findings:
                raised = raised_alert(finding, cause.hotline, cause.message_id, self._parties_on)
                key = AlertKey.of(raised.alert)
                if recorded[key]:
                    recorded[key] -= 1
                else:
                    missed.append(raised)
        return missed
