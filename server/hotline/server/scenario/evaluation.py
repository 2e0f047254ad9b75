"""Judging a scenario run from the log: each expected player action met or not, with
the records and the exercise times that decided it, and what followed each inject.

Exercise time is the wall time since the run's start note multiplied by the time scale
the note records, so every duration here reads as the trainer planned it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from hotline.contract import escalated_from, seconds
from hotline.server.errors import ConfigurationError
from hotline.server.exercise import hotline_name
from hotline.server.scenario.loading import parse_scenario
from hotline.server.scenario.model import Inject, InjectKind, Objective, ObjectiveKind, Scenario
from hotline.server.scenario.recording import StartNote, inject_message_id, read_start_note
from hotline.v1 import acknowledgments_pb2, common_pb2, log_pb2

_ANSWERS = (
    acknowledgments_pb2.ACK_KIND_WILCO,
    acknowledgments_pb2.ACK_KIND_ROGER,
    acknowledgments_pb2.ACK_KIND_UNABLE,
)


class Verdict(enum.Enum):
    MET = "met"
    NOT_MET = "not met"
    #: The log ends before the criterion could be judged (a run stopped early).
    UNDECIDED = "undecided"


@dataclass(frozen=True)
class Evidence:
    """A record that decided a verdict: its index, exercise time and what it was."""

    index: int
    at: float
    what: str


@dataclass(frozen=True)
class ObjectiveResult:
    objective: Objective
    verdict: Verdict
    reason: str
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True)
class AlertSeen:
    """An alert about an inject's message: its kind (``ACK_OVERDUE`` ...), record and
    exercise time."""

    kind: str
    index: int
    at: float

    def __str__(self) -> str:
        return f"{self.kind} (record {self.index}, T+{_span(self.at)})"


@dataclass(frozen=True)
class InjectOutcome:
    """One inject and what followed it."""

    inject: Inject
    index: int | None
    at: float | None
    #: Who answered its message first, how, after how long (exercise seconds).
    answered_by: str = ""
    answer: str = ""
    time_lost: float | None = None
    alerts: tuple[AlertSeen, ...] = ()


@dataclass
class Incursion:
    """A unit of ``party`` inside another party's zone: from its ZONE_INCURSION alert to
    its ZONE_INCURSION_CLEARED one (exercise time; ``end`` None while it lasted)."""

    unit_id: str
    zone_id: str
    party: str
    index: int
    start: float
    end_index: int | None = None
    end: float | None = None

    @property
    def lasted(self) -> float | None:
        return None if self.end is None else self.end - self.start


@dataclass(frozen=True)
class Outage:
    """A line cut by an inject: from its note to the first reconnection of a cut
    station (exercise time; ``end`` None if none came back before the log ended), and
    the messages sent on the hotline meanwhile."""

    inject_id: str
    what: str
    index: int
    start: float
    end_index: int | None
    end: float | None
    traffic: int

    @property
    def lasted(self) -> float | None:
        return None if self.end is None else self.end - self.start


@dataclass
class RunEvaluation:
    """One scenario run found in a log."""

    run_id: str
    scenario: Scenario
    time_scale: float
    start_index: int
    started_at: float
    end_index: int | None = None
    objectives: list[ObjectiveResult] = field(default_factory=list)
    injects: list[InjectOutcome] = field(default_factory=list)
    incursions: list[Incursion] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    #: Alerts raised during the run, by kind (``NOTICE_CONFLICT`` ...).
    alerts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def met(self) -> int:
        return sum(r.verdict is Verdict.MET for r in self.objectives)


@dataclass
class _Run:
    evaluation: RunEvaluation
    records: list[tuple[int, log_pb2.LogRecord]] = field(default_factory=list)


class RunCollector:
    """Gathers the records of every scenario run while a log is read once for other
    purposes (the after-action report): only the records inside a run are kept."""

    def __init__(self, scenario: Scenario | None = None) -> None:
        self._scenario = scenario
        self._runs: list[_Run] = []
        self._current: _Run | None = None

    def passing(
        self, records: Iterable[tuple[int, log_pb2.LogRecord]]
    ) -> Iterator[tuple[int, log_pb2.LogRecord]]:
        """``records``, unchanged, each one seen on its way."""
        for index, record in records:
            self.add(index, record)
            yield index, record

    def add(self, index: int, record: log_pb2.LogRecord) -> None:
        if record.kind == log_pb2.RECORD_KIND_ANNOTATION:
            note = read_start_note(record.annotation.text)
            if note is not None:
                self._current = _Run(_start(note, index, record, self._scenario))
                self._runs.append(self._current)
                return
            current = self._current
            if current is not None and record.annotation.bookmark == (
                f"scenario-end:{current.evaluation.run_id}"
            ):
                current.evaluation.end_index = index
                current.records.append((index, record))
                self._current = None
                return
        if self._current is not None:
            self._current.records.append((index, record))

    def evaluations(self) -> list[RunEvaluation]:
        """Every run seen so far, judged."""
        return [_judge(run) for run in self._runs]


def evaluate_runs(
    records: Iterable[tuple[int, log_pb2.LogRecord]], scenario: Scenario | None = None
) -> list[RunEvaluation]:
    """Every scenario run in the log (``(index, record)`` in log order), judged against
    the scenario text its start note holds, or against ``scenario`` when given (a
    corrected objective judged afresh)."""
    collector = RunCollector(scenario)
    for index, record in records:
        collector.add(index, record)
    return collector.evaluations()


def _start(
    note: StartNote,
    index: int,
    record: log_pb2.LogRecord,
    given: Scenario | None,
) -> RunEvaluation:
    problems: list[str] = []
    scenario = given
    if scenario is None:
        try:
            scenario = parse_scenario(
                note.source, name="the recorded scenario", with_exercise=False
            )
        except ConfigurationError as error:
            problems.append(str(error))
            scenario = Scenario(
                note.name, None, note.time_scale, note.seed, 0.0, "", frozenset(), {}, (), ()
            )
    return RunEvaluation(
        run_id=note.run_id,
        scenario=scenario,
        time_scale=note.time_scale,
        start_index=index,
        started_at=seconds(record.recorded_at),
        problems=problems,
    )


class _Judge:
    def __init__(self, run: _Run) -> None:
        self.run = run.evaluation
        self.records = run.records
        self.scale = run.evaluation.time_scale
        self.ended = run.evaluation.end_index is not None
        self.last_at = self.at(run.records[-1][1]) if run.records else 0.0
        self.sent: dict[str, tuple[int, log_pb2.LogRecord]] = {}
        for index, record in run.records:
            if record.kind == log_pb2.RECORD_KIND_ENVELOPE and record.envelope.message_id:
                self.sent.setdefault(record.envelope.message_id, (index, record))
        self.incursions = self._incursions()

    def _incursions(self) -> list[Incursion]:
        owners: dict[str, str] = {}
        found: list[Incursion] = []
        open_: dict[tuple[str, str], Incursion] = {}
        for index, record in self.records:
            envelope = record.envelope
            body = (
                envelope.WhichOneof("body") if record.kind == log_pb2.RECORD_KIND_ENVELOPE else None
            )
            if body == "position_report":
                for position in envelope.position_report.positions:
                    owners.setdefault(position.unit_id, envelope.sender.party)
            if body != "alert":
                continue
            alert = envelope.alert
            pairs = [(u, z) for u in alert.unit_ids for z in alert.zone_ids]
            if alert.kind == acknowledgments_pb2.ALERT_KIND_ZONE_INCURSION:
                for unit, zone in pairs:
                    if (unit, zone) not in open_:
                        party = owners.get(unit, "")
                        open_[(unit, zone)] = Incursion(unit, zone, party, index, self.at(record))
                        found.append(open_[(unit, zone)])
            elif alert.kind == acknowledgments_pb2.ALERT_KIND_ZONE_INCURSION_CLEARED:
                for pair in pairs:
                    incursion = open_.pop(pair, None)
                    if incursion is not None:
                        incursion.end_index, incursion.end = index, self.at(record)
        return found

    def at(self, record: log_pb2.LogRecord) -> float:
        return (seconds(record.recorded_at) - self.run.started_at) * self.scale

    def inject_record(self, inject_id: str) -> tuple[int, log_pb2.LogRecord] | None:
        """The inject's message, or else its note."""
        message_id = inject_message_id(self.run.run_id, inject_id)
        if message_id in self.sent:
            return self.sent[message_id]
        bookmark = f"{self.run.run_id}/{inject_id}"
        return next(((i, r) for i, r in self.records if r.annotation.bookmark == bookmark), None)

    def answers(self, message_id: str) -> list[tuple[int, log_pb2.LogRecord]]:
        found = []
        for index, record in self.records:
            if record.kind != log_pb2.RECORD_KIND_ENVELOPE:
                continue
            ack = record.envelope.acknowledgment
            if record.envelope.WhichOneof("body") != "acknowledgment" or ack.kind not in _ANSWERS:
                continue
            original = escalated_from(ack.message_id)
            if ack.message_id == message_id or (original and original[1] == message_id):
                found.append((index, record))
        return found

    def judge(self, objective: Objective) -> ObjectiveResult:
        kind = objective.kind
        if kind is ObjectiveKind.ANSWERED_WITHIN:
            return self.answered_within(objective)
        if kind is ObjectiveKind.SENDS_WITHIN:
            return self.sends_within(objective)
        if kind is ObjectiveKind.NO_NOTICE_CONFLICT:
            return self.no_notice_conflict(objective)
        if kind is ObjectiveKind.INCURSIONS_CLEARED_WITHIN:
            return self.incursions_cleared_within(objective)
        return self.resumed_within(objective)

    def incursions_cleared_within(self, objective: Objective) -> ObjectiveResult:
        mine = [i for i in self.incursions if i.party == objective.party]
        if not mine:
            return ObjectiveResult(objective, Verdict.MET, f"no {objective.party} unit intruded")
        late = [i for i in mine if i.lasted is None or i.lasted > objective.within]
        if not late:
            return ObjectiveResult(
                objective, Verdict.MET, f"all {len(mine)} incursion(s) cleared in time"
            )
        evidence = tuple(
            Evidence(
                i.index,
                i.start,
                f"{i.unit_id} into {i.zone_id}: "
                + ("never left" if i.lasted is None else f"left after {_span(i.lasted)}"),
            )
            for i in late
        )
        # Still inside when a run stopped early, before its time was up: not judged yet.
        early = [
            i for i in late if i.end is None and not self.ended
            and self.last_at < i.start + objective.within
        ]  # fmt: skip
        verdict = Verdict.UNDECIDED if len(early) == len(late) else Verdict.NOT_MET
        reason = (
            f"{len(mine) - len(late)} of {len(mine)} incursion(s) cleared within "
            f"{_span(objective.within)}"
        )
        return ObjectiveResult(objective, verdict, reason, evidence)

    def _undecided_or_not(
        self, objective: Objective, since: float, what: str, evidence: tuple[Evidence, ...]
    ) -> ObjectiveResult:
        if not self.ended and self.last_at < since + objective.within:
            return ObjectiveResult(
                objective, Verdict.UNDECIDED, f"the log ends before {what}", evidence
            )
        return ObjectiveResult(objective, Verdict.NOT_MET, what, evidence)

    def answered_within(self, objective: Objective) -> ObjectiveResult:
        found = self.inject_record(objective.inject)
        if found is None or found[1].kind != log_pb2.RECORD_KIND_ENVELOPE:
            return ObjectiveResult(
                objective, Verdict.NOT_MET, f"inject {objective.inject}'s message is not in the log"
            )
        index, sent = found
        sent_at = self.at(sent)
        start = Evidence(index, sent_at, f"{objective.inject} sent")
        for answer_index, record in self.answers(sent.envelope.message_id):
            if record.envelope.sender.party != objective.party:
                continue
            waited = self.at(record) - sent_at
            what = _answer_text(record)
            evidence = (start, Evidence(answer_index, self.at(record), what))
            if waited <= objective.within:
                return ObjectiveResult(
                    objective, Verdict.MET, f"{what} after {_span(waited)}", evidence
                )
            return ObjectiveResult(
                objective,
                Verdict.NOT_MET,
                f"{what} after {_span(waited)}, more than {_span(objective.within)}",
                evidence,
            )
        return self._undecided_or_not(
            objective, sent_at, f"{objective.party} never answered", (start,)
        )

    def sends_within(self, objective: Objective) -> ObjectiveResult:
        since, evidence = 0.0, tuple[Evidence, ...]()
        if objective.inject:
            found = self.inject_record(objective.inject)
            if found is None:
                return ObjectiveResult(objective, Verdict.NOT_MET, "the inject is not in the log")
            since = self.at(found[1])
            evidence = (Evidence(found[0], since, f"inject {objective.inject}"),)
        for index, record in self.records:
            envelope = record.envelope
            if (
                record.kind == log_pb2.RECORD_KIND_ENVELOPE
                and envelope.sender.party == objective.party
                and envelope.WhichOneof("body") == objective.message
                and (not objective.hotline or envelope.hotline == objective.hotline)
                and self.at(record) >= since
            ):
                took = self.at(record) - since
                sent = Evidence(index, self.at(record), f"{objective.message} sent")
                verdict = Verdict.MET if took <= objective.within else Verdict.NOT_MET
                return ObjectiveResult(
                    objective, verdict, f"sent after {_span(took)}", (*evidence, sent)
                )
        return self._undecided_or_not(
            objective, since, f"{objective.party} sent no {objective.message}", evidence
        )

    def no_notice_conflict(self, objective: Objective) -> ObjectiveResult:
        notices = {
            message_id
            for message_id, (_, record) in self.sent.items()
            if record.envelope.sender.party == objective.party
            and record.envelope.WhichOneof("body") == "activity_notice"
        }
        conflicts = tuple(
            Evidence(index, self.at(record), record.envelope.alert.summary)
            for index, record in self.records
            if record.envelope.WhichOneof("body") == "alert"
            and record.envelope.alert.kind == acknowledgments_pb2.ALERT_KIND_NOTICE_CONFLICT
            and record.envelope.alert.message_id in notices
        )
        if conflicts:
            return ObjectiveResult(
                objective, Verdict.NOT_MET, f"{len(conflicts)} notice conflict(s)", conflicts
            )
        return ObjectiveResult(
            objective, Verdict.MET, f"{len(notices)} notice(s) sent, none in conflict"
        )

    def resumed_within(self, objective: Objective) -> ObjectiveResult:
        found = self.inject_record(objective.inject)
        inject = self.run.scenario.inject(objective.inject)
        hotline = objective.hotline or (inject.hotline if inject else objective.hotline)
        if found is None:
            return ObjectiveResult(objective, Verdict.NOT_MET, "the inject is not in the log")
        since = self.at(found[1])
        start = Evidence(found[0], since, f"inject {objective.inject}")
        for index, record in self.records:
            if (
                record.kind == log_pb2.RECORD_KIND_HOTLINE_RESUMED
                and record.hotline == hotline
                and index > found[0]
            ):
                took = self.at(record) - since
                verdict = Verdict.MET if took <= objective.within else Verdict.NOT_MET
                resumed = Evidence(index, self.at(record), f"resumed by {record.actor}")
                return ObjectiveResult(
                    objective, verdict, f"resumed after {_span(took)}", (start, resumed)
                )
        return self._undecided_or_not(
            objective, since, f"{hotline_name(hotline)} was never resumed", (start,)
        )

    def alert_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, record in self.records:
            if record.envelope.WhichOneof("body") == "alert":
                kind = acknowledgments_pb2.AlertKind.Name(record.envelope.alert.kind)
                name = kind.removeprefix("ALERT_KIND_")
                counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items()))

    def outage(self, inject: Inject) -> Outage:
        found = self.inject_record(inject.inject_id)
        station = inject.station
        hotline = station.hotline if station is not None else inject.hotline
        what = (
            str(station)
            if station is not None
            else f"every simulated station on {hotline_name(hotline)}"
        )
        if found is None:
            return Outage(inject.inject_id, what, -1, inject.at, None, None, 0)
        start_index, record = found
        start = self.at(record)
        end_index: int | None = None
        end: float | None = None
        traffic = 0
        for index, later in self.records:
            if index <= start_index:
                continue
            session = later.station_session.station
            if (
                later.kind == log_pb2.RECORD_KIND_STATION_CONNECTED
                and session.hotline == hotline
                and (station is None or session.party == station.party)
            ):
                end_index, end = index, self.at(later)
                break
            envelope = later.envelope
            if (
                later.kind == log_pb2.RECORD_KIND_ENVELOPE
                and envelope.hotline == hotline
                and envelope.WhichOneof("body") not in (None, "acknowledgment", "alert")
                and envelope.sender.party
                and (station is None or envelope.sender.party != station.party)
            ):
                traffic += 1
        return Outage(inject.inject_id, what, start_index, start, end_index, end, traffic)

    def outcome(self, inject: Inject) -> InjectOutcome:
        found = self.inject_record(inject.inject_id)
        if found is None:
            return InjectOutcome(inject, None, None)
        index, record = found
        at = self.at(record)
        if inject.kind is not InjectKind.MESSAGE or record.kind != log_pb2.RECORD_KIND_ENVELOPE:
            return InjectOutcome(inject, index, at)
        message_id = record.envelope.message_id
        answers = self.answers(message_id)
        alerts = tuple(
            AlertSeen(
                acknowledgments_pb2.AlertKind.Name(r.envelope.alert.kind).removeprefix(
                    "ALERT_KIND_"
                ),
                i,
                self.at(r),
            )
            for i, r in self.records
            if r.envelope.WhichOneof("body") == "alert"
            and _concerns(r.envelope.alert.message_id, message_id)
        )
        if not answers:
            return InjectOutcome(inject, index, at, alerts=alerts)
        first = answers[0][1]
        return InjectOutcome(
            inject,
            index,
            at,
            answered_by=_who(first),
            answer=acknowledgments_pb2.AckKind.Name(
                first.envelope.acknowledgment.kind
            ).removeprefix("ACK_KIND_"),
            time_lost=self.at(first) - at,
            alerts=alerts,
        )


def _concerns(alert_about: str, message_id: str) -> bool:
    """Whether an alert about ``alert_about`` concerns ``message_id`` (the message
    itself or one of its escalated copies)."""
    original = escalated_from(alert_about)
    return alert_about == message_id or (original is not None and original[1] == message_id)


def _judge(run: _Run) -> RunEvaluation:
    judge = _Judge(run)
    evaluation = run.evaluation
    evaluation.objectives = [judge.judge(o) for o in evaluation.scenario.objectives]
    evaluation.injects = [judge.outcome(i) for i in evaluation.scenario.injects]
    evaluation.incursions = judge.incursions
    evaluation.outages = [
        judge.outage(i) for i in evaluation.scenario.injects if i.kind is InjectKind.LINE_CUT
    ]
    evaluation.alerts = judge.alert_counts()
    return evaluation


def _who(record: log_pb2.LogRecord) -> str:
    sender = record.envelope.sender
    seat = record.envelope.acknowledgment.operator
    seat_name = {
        common_pb2.OPERATOR_PRIMARY: "primary",
        common_pb2.OPERATOR_STANDBY: "standby",
    }.get(seat, "")
    station = f"{sender.party}/{hotline_name(record.envelope.hotline)}"
    return f"{station} {seat_name}".strip()


def _answer_text(record: log_pb2.LogRecord) -> str:
    kind = acknowledgments_pb2.AckKind.Name(record.envelope.acknowledgment.kind)
    return f"{kind.removeprefix('ACK_KIND_')} from {_who(record)}"


def _span(length: float) -> str:
    whole = round(length)
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
