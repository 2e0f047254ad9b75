"""What a scenario (a Master Scenario Events List) holds: the exercise it runs, the
simulated stations and their operators, the timed injects and the expected player
actions.

Every time in a scenario is *exercise time*: an offset from the scenario's T+0 in
seconds. The runner maps it to wall time by the time scale (at scale 10, ten exercise
minutes pass in one wall minute); the server runs the exercise's policy divided by the
same scale (see :func:`scaled_exercise`), so deadlines fall due in exercise time too.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TypeAlias

from hotline.server.exercise import Deadlines, Exercise, Hotline, Policy, Separation, hotline_name
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2, zones_pb2

AckKind: TypeAlias = acknowledgments_pb2.AckKind.ValueType

#: The time scales a trainer chooses between (others are accepted, from 1 to 600).
USUAL_TIME_SCALES = (1, 10, 60)
MAX_TIME_SCALE = 600.0


@dataclass(frozen=True, order=True)
class StationName:
    """A party's station on one hotline, written ``RED/AIR_OPERATIONS``."""

    party: str
    hotline: Hotline

    def __str__(self) -> str:
        return f"{self.party}/{hotline_name(self.hotline)}"


class Seat(enum.Enum):
    """Which operator of a station: the primary duty officer or the standby."""

    PRIMARY = "primary"
    STANDBY = "standby"


@dataclass(frozen=True)
class Window:
    """From ``start`` until ``end`` (exercise seconds after T+0; ``end`` excluded)."""

    start: float
    end: float

    def holds(self, at: float) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class AnswerDelay:
    """How long an operator takes to answer: ``fixed`` seconds, or drawn uniformly
    from ``low`` to ``high``, or exponentially with mean ``mean`` (exercise seconds)."""

    fixed: float | None = None
    low: float = 0.0
    high: float = 0.0
    mean: float = 0.0

    def draw(self, rng: random.Random) -> float:
        if self.fixed is not None:
            return self.fixed
        if self.mean:
            return rng.expovariate(1.0 / self.mean)
        return rng.uniform(self.low, self.high)


@dataclass(frozen=True)
class Answer:
    """The response an operator gives: WILCO, ROGER or UNABLE with a reason."""

    kind: AckKind
    reason: str = ""


@dataclass(frozen=True)
class Operator:
    """One seat's operator model: the delay before answering, the probability of
    answering at all, the answer (by message kind, ``default`` for the rest), and the
    windows in which the operator is away."""

    delay: AnswerDelay = AnswerDelay(fixed=30.0)
    probability: float = 1.0
    answers: Mapping[str, Answer] = field(
        default_factory=lambda: {"default": Answer(acknowledgments_pb2.ACK_KIND_WILCO)}
    )
    absent: tuple[Window, ...] = ()

    def answer_to(self, body: str) -> Answer:
        return self.answers.get(body) or self.answers["default"]

    def back_at(self, at: float) -> float:
        """When the operator is next at the seat, at ``at`` or after (``at`` itself
        when present)."""
        moved = True
        while moved:
            moved = False
            for window in self.absent:
                if window.holds(at):
                    at, moved = window.end, True
        return at


@dataclass(frozen=True)
class SimulatedStation:
    """A station no person plays: the runner connects its primary and standby seats."""

    station: StationName
    primary: Operator = Operator()
    standby: Operator = Operator()
    language: str = "en"


class InjectKind(enum.Enum):
    MESSAGE = "message"
    UNAVAILABLE = "unavailable"
    SUSPEND = "suspend"
    RESUME = "resume"
    NOTE = "note"
    LINE_CUT = "line_cut"


@dataclass(frozen=True)
class Inject:
    """One line of the events list, at ``at`` exercise seconds after T+0.

    - MESSAGE: ``envelope`` (its body and priority; ids and times are set when sent)
      from the simulated station ``station``; an activity notice's window opens
      ``window_opens`` after the inject and lasts ``window_lasts``; its area is moved
      ``location_off_m`` towards ``off_bearing_deg`` (a pre-notification with its
      location off).
      With ``delivery_delay`` the message is written (its sent-at time) at ``at`` and
      reaches the server that much later.
    - UNAVAILABLE: ``station``'s ``seat`` is away until ``until``.
    - LINE_CUT: the simulated ``station`` (or every simulated station on ``hotline``)
      loses its connection until ``until``, then resumes with no gap.
    - SUSPEND / RESUME: ``hotline``, with ``reason``: by exercise control, or by the
      station ``by`` (its party's act) where the exercise allows it.
    - NOTE: a trainer's note ``text`` (and ``bookmark``) in the log.
    """

    inject_id: str
    at: float
    kind: InjectKind
    description: str = ""
    station: StationName | None = None
    envelope: envelope_pb2.Envelope | None = None
    window_opens: float = 0.0
    window_lasts: float = 0.0
    delivery_delay: float = 0.0
    location_off_m: float = 0.0
    off_bearing_deg: float = 90.0
    seat: Seat = Seat.PRIMARY
    until: float = 0.0
    hotline: Hotline = common_pb2.HOTLINE_UNSPECIFIED
    reason: str = ""
    by: StationName | None = None
    text: str = ""
    bookmark: str = ""


@dataclass(frozen=True)
class PreloadedZone:
    """A measure agreed before the exercise: ``owner`` proposes ``zone`` at the start of
    the run and every station of ``accepted_by`` accepts it. Its window runs from
    ``effective_from`` to ``effective_until`` (exercise time)."""

    zone: zones_pb2.Zone
    owner: StationName
    accepted_by: tuple[StationName, ...]
    effective_from: float
    effective_until: float


@dataclass(frozen=True)
class Waypoint:
    """Where a unit is at exercise time ``at``: degrees, metres above mean sea level."""

    at: float
    latitude: float
    longitude: float
    altitude_m: float = 0.0


@dataclass(frozen=True)
class SimulatedUnit:
    """A unit the runner moves along ``route`` (straight geodesic legs, constant speed
    on each) and reports every ``report_every`` exercise seconds, from the route's first
    time to the end of the run (holding its last position after the route ends), as
    position reports of the station ``reported_by``."""

    unit_id: str
    callsign: str
    party: str
    domain: common_pb2.Domain.ValueType
    reported_by: StationName
    report_every: float
    route: tuple[Waypoint, ...]
    platform_type: str = ""


class ObjectiveKind(enum.Enum):
    #: ``party``'s station answers the message of inject ``inject`` (WILCO or ROGER,
    #: on its hotline or an escalated copy) within ``within``.
    ANSWERED_WITHIN = "answered_within"
    #: ``party`` sends a message of kind ``message`` on ``hotline`` within ``within``
    #: after inject ``inject`` (or after T+0).
    SENDS_WITHIN = "sends_within"
    #: No NOTICE_CONFLICT alert is raised on a notice ``party`` sends.
    NO_NOTICE_CONFLICT = "no_notice_conflict"
    #: ``hotline`` is resumed within ``within`` after inject ``inject`` suspended it.
    RESUMED_WITHIN = "resumed_within"
    #: Every ZONE_INCURSION of ``party``'s units is cleared (the unit out of the zone)
    #: within ``within`` of its alert.
    INCURSIONS_CLEARED_WITHIN = "incursions_cleared_within"


@dataclass(frozen=True)
class Objective:
    """An expected player action and its criterion, judged from the log."""

    objective_id: str
    kind: ObjectiveKind
    description: str
    party: str = ""
    inject: str = ""
    within: float = 0.0
    hotline: Hotline = common_pb2.HOTLINE_UNSPECIFIED
    message: str = ""


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario file. ``source`` is its text, which the runner records in the
    log so that the after-action report can judge the objectives from the log alone."""

    name: str
    exercise: Exercise | None
    time_scale: float
    seed: int
    duration: float
    start_label: str
    played: frozenset[StationName]
    simulated: Mapping[StationName, SimulatedStation]
    injects: tuple[Inject, ...]
    objectives: tuple[Objective, ...]
    source: str = ""
    zones: tuple[PreloadedZone, ...] = ()
    units: tuple[SimulatedUnit, ...] = ()

    def with_time_scale(self, time_scale: float) -> Scenario:
        return replace(self, time_scale=time_scale)

    def inject(self, inject_id: str) -> Inject | None:
        return next((i for i in self.injects if i.inject_id == inject_id), None)


def scaled_exercise(exercise: Exercise, time_scale: float) -> Exercise:
    """``exercise`` with the durations of its policy divided by ``time_scale``: the
    policy a server runs so that deadlines, line tests and the staleness of tracks fall
    due in exercise time."""
    if time_scale == 1:
        return exercise
    policy = exercise.policy
    separation = policy.separation
    scaled = Policy(
        deadlines={
            p: Deadlines(receipt=d.receipt / time_scale, response=d.response / time_scale)
            for p, d in policy.deadlines.items()
        },
        line_test_interval=policy.line_test_interval / time_scale,
        line_test_receipt=policy.line_test_receipt / time_scale,
        separation=Separation(
            air_horizontal_m=separation.air_horizontal_m,
            air_vertical_m=separation.air_vertical_m,
            ground_m=separation.ground_m,
            # Tracks are dead-reckoned at their reported (exercise) speeds over wall
            # seconds: the unscaled look-ahead covers the planned distance.
            look_ahead_s=separation.look_ahead_s,
            stale_after_s=separation.stale_after_s / time_scale,
        ),
        parties_may_suspend=policy.parties_may_suspend,
    )
    return replace(exercise, policy=scaled)
