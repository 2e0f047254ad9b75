"""Re-evaluation of a recorded exercise: what the current deconfliction engine makes of
the recorded inputs, against the alerts the server recorded.

The recorded position reports, zone statuses and activity notices are fed, in log order
and at their recorded times, through :class:`~hotline.server.checks.DeconflictionChecks`
exactly as the switchboard feeds them, and every finding becomes an alert through the
switchboard's own rule (:func:`~hotline.server.checks.raised_alert`). The engine is
configured from the recorded exercise (``EXERCISE_STARTED``; a later one with other
minima, after a restart, rebuilds it from every input so far, as the server did), or
from an exercise the trainer gives instead.

Alerts are matched by kind, units, zones and the message that caused them, and each is
reported as the same, added (only the engine raises it now), missing (only the log has
it) or changed (hotline, audience, parties, distance, time to CPA or location differ).
The alert's wording is not compared: it is derived from those fields. The result
depends only on the records and the exercise, so the same log gives the same report.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hotline.contract import SERVER_ID_PREFIX, seconds
from hotline.server.checks import (
    DECONFLICTION_ALERTS,
    OBSERVED,
    AlertKey,
    DeconflictionChecks,
    raised_alert,
)
from hotline.server.errors import HotlineError
from hotline.server.exercise import HOTLINES, Exercise, Hotline, Separation, hotline_name
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2, exercise_pb2, log_pb2

__all__ = [
    "DECONFLICTION_ALERTS",
    "AlertKey",
    "Change",
    "Comparison",
    "Reevaluation",
    "RefusedInput",
    "Verdict",
    "reevaluate",
]


class Verdict(enum.StrEnum):
    """How a recomputed alert compares with the recorded one."""

    SAME = "same"
    ADDED = "added"
    MISSING = "missing"
    CHANGED = "changed"


@dataclass(frozen=True, slots=True)
class RaisedAt:
    """One alert as recorded (``index`` set) or as recomputed (``index`` None)."""

    alert: acknowledgments_pb2.Alert
    hotline: Hotline
    audience: tuple[str, ...]
    index: int | None
    order: int
    """Where it falls: the record index, or the position among recomputed alerts."""


@dataclass(frozen=True, slots=True)
class Change:
    """One field that differs, as text: ``distance_m`` ``4012 m`` → ``3990 m``."""

    field: str
    recorded: str
    recomputed: str


@dataclass(frozen=True, slots=True)
class Comparison:
    """A recorded alert, its recomputed counterpart, or both."""

    verdict: Verdict
    key: AlertKey
    cause_index: int
    """The record index of the causing message (-1 if the log does not hold it)."""
    recorded: RaisedAt | None
    recomputed: RaisedAt | None
    changes: tuple[Change, ...] = ()

    @property
    def shown(self) -> RaisedAt:
        """The recomputed alert if there is one, else the recorded one."""
        found = self.recomputed or self.recorded
        assert found is not None
        return found


@dataclass(frozen=True, slots=True)
class RefusedInput:
    """A recorded input the current engine refuses (the server would not record it)."""

    index: int
    message_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Reevaluation:
    """The outcome of :func:`reevaluate`."""

    comparisons: tuple[Comparison, ...]
    refused: tuple[RefusedInput, ...]
    inputs: int
    """Position reports, zone statuses and activity notices fed to the engine."""
    separation: Separation
    """The minima the engine ran with (the last ones, if the log changed them)."""
    counts: Mapping[Verdict, int] = field(default_factory=dict)

    @property
    def diverges(self) -> bool:
        """Whether anything differs from the recording."""
        return bool(self.refused) or any(c.verdict is not Verdict.SAME for c in self.comparisons)


@dataclass(frozen=True, slots=True)
class _Config:
    separation: Separation
    parties_on: Mapping[Hotline, frozenset[str]]


def _recorded_config(exercise: exercise_pb2.Exercise) -> _Config:
    """The engine's configuration as the server ran it; a zero value is one the record
    did not hold (a log written before it was recorded), so the default."""
    base = Separation()
    recorded = exercise.policy.separation
    separation = Separation(
        air_horizontal_m=recorded.air_horizontal_m or base.air_horizontal_m,
        air_vertical_m=recorded.air_vertical_m or base.air_vertical_m,
        ground_m=recorded.ground_m or base.ground_m,
        look_ahead_s=seconds(recorded.look_ahead) or base.look_ahead_s,
        stale_after_s=seconds(recorded.stale_after) or base.stale_after_s,
        notice_mismatch_m=recorded.notice_mismatch_m or base.notice_mismatch_m,
    )
    return _Config(
        separation,
        {
            h: frozenset(s.ref.party for s in exercise.stations if s.ref.hotline == h)
            for h in HOTLINES
        },
    )


def _given_config(exercise: Exercise) -> _Config:
    return _Config(
        exercise.policy.separation,
        {h: frozenset(s.party for s in exercise.stations_on(h)) for h in HOTLINES},
    )


def _text(value: float, unit: str, digits: int) -> str:
    return f"{value:.{digits}f} {unit}"


def _facts(raised: RaisedAt) -> dict[str, str]:
    """The compared fields, as text at the precision that matters to a trainer."""
    alert = raised.alert
    facts = {
        "hotline": hotline_name(raised.hotline),
        "audience": ",".join(raised.audience),
        "parties": ",".join(sorted(alert.parties)),
        "distance_m": _text(alert.distance_m, "m", 0),
        "time_to_cpa_s": _text(alert.time_to_cpa_s, "s", 1),
    }
    if alert.HasField("location"):
        facts["location"] = f"{alert.location.latitude:.5f},{alert.location.longitude:.5f}"
    else:
        facts["location"] = "-"
    return facts


def _compare(key: AlertKey, cause_index: int, recorded: RaisedAt, now: RaisedAt) -> Comparison:
    before, after = _facts(recorded), _facts(now)
    changes = tuple(
        Change(name, before[name], after[name]) for name in before if before[name] != after[name]
    )
    verdict = Verdict.CHANGED if changes else Verdict.SAME
    return Comparison(verdict, key, cause_index, recorded, now, changes)


class _Reevaluator:
    """Feeds inputs to the engine and collects both sides, in one pass over the log."""

    def __init__(self, given: Exercise | None) -> None:
        self._given = _given_config(given) if given is not None else None
        self._config = self._given or _recorded_config(exercise_pb2.Exercise())
        self._checks = DeconflictionChecks(self._config.separation)
        # Every input so far, to rebuild the engine when a restart changed the minima.
        self._inputs: list[tuple[envelope_pb2.Envelope, str, float]] = []
        self._message_index: dict[str, int] = {}
        self._cause = ""
        self._cause_hotline: Hotline = common_pb2.HOTLINE_UNSPECIFIED
        self._raised = 0
        self._recorded: dict[AlertKey, list[RaisedAt]] = {}
        self._recomputed: dict[AlertKey, list[RaisedAt]] = {}
        self._refused: list[RefusedInput] = []

    def add(self, index: int, record: log_pb2.LogRecord) -> None:
        if record.kind == log_pb2.RECORD_KIND_EXERCISE_STARTED:
            self._started(record.exercise)
        elif record.kind == log_pb2.RECORD_KIND_ENVELOPE:
            self._envelope(index, record.envelope)

    def _started(self, exercise: exercise_pb2.Exercise) -> None:
        if self._given is not None:
            return
        config = _recorded_config(exercise)
        if config.separation != self._config.separation:
            # The server started afresh with these minima and rebuilt its picture from
            # the whole log, raising nothing for it: do the same.
            self._checks = DeconflictionChecks(config.separation)
            for envelope, body, at in self._inputs:
                try:
                    self._checks.observe(envelope, body, at)
                except HotlineError:
                    continue
        self._config = config

    def _envelope(self, index: int, envelope: envelope_pb2.Envelope) -> None:
        message_id = envelope.message_id
        self._message_index.setdefault(message_id, index)
        body = envelope.WhichOneof("body") or ""
        if not message_id.startswith(SERVER_ID_PREFIX):
            # A station's message: what the server found next, it found about this one.
            self._cause, self._cause_hotline = message_id, envelope.hotline
        if body == "alert" and envelope.alert.kind in DECONFLICTION_ALERTS:
            raised = RaisedAt(
                envelope.alert, envelope.hotline, tuple(sorted(envelope.audience)), index, index
            )
            self._recorded.setdefault(AlertKey.of(envelope.alert), []).append(raised)
        elif body in OBSERVED and not envelope.escalation_of:
            self._observe(index, envelope, body)

    def _observe(self, index: int, envelope: envelope_pb2.Envelope, body: str) -> None:
        at = seconds(envelope.recorded_at)
        self._inputs.append((envelope, body, at))
        try:
            findings = self._checks.observe(envelope, body, at)
        except HotlineError as error:
            self._refused.append(RefusedInput(index, envelope.message_id, error.message))
            return
        for finding in findings:
            raised = raised_alert(
                finding, self._cause_hotline, self._cause, self._config.parties_on
            )
            now = RaisedAt(
                raised.alert, raised.hotline, tuple(sorted(raised.audience)), None, self._raised
            )
            self._raised += 1
            self._recomputed.setdefault(AlertKey.of(raised.alert), []).append(now)

    def result(self) -> Reevaluation:
        comparisons: list[Comparison] = []
        for key in sorted(self._recorded.keys() | self._recomputed.keys()):
            cause_index = self._message_index.get(key.cause, -1)
            recorded = self._recorded.get(key, [])
            recomputed = self._recomputed.get(key, [])
            for before, now in zip(recorded, recomputed, strict=False):
                comparisons.append(_compare(key, cause_index, before, now))
            for before in recorded[len(recomputed) :]:
                comparisons.append(Comparison(Verdict.MISSING, key, cause_index, before, None))
            for now in recomputed[len(recorded) :]:
                comparisons.append(Comparison(Verdict.ADDED, key, cause_index, None, now))
        # In the order the alerts come: by cause, recomputed ones as raised, then the
        # recorded ones nothing recomputed matches.
        comparisons.sort(
            key=lambda c: (
                c.cause_index,
                c.recomputed is None,
                c.recomputed.order if c.recomputed else c.shown.order,
            )
        )
        counts = Counter(c.verdict for c in comparisons)
        return Reevaluation(
            comparisons=tuple(comparisons),
            refused=tuple(self._refused),
            inputs=len(self._inputs),
            separation=self._config.separation,
            counts={verdict: counts.get(verdict, 0) for verdict in Verdict},
        )


def reevaluate(
    records: Iterable[tuple[int, log_pb2.LogRecord]], exercise: Exercise | None = None
) -> Reevaluation:
    """Re-evaluates a log given as ``(index, record)`` in log order.

    ``exercise`` replaces the recorded configuration (e.g. other separation minima);
    without it the engine runs as the server did. Recorded inputs the current engine
    refuses are listed in ``refused`` and count as a divergence.
    """
    reevaluator = _Reevaluator(exercise)
    for index, record in records:
        reevaluator.add(index, record)
    return reevaluator.result()
