"""Scenarios (a Master Scenario Events List): the file, how a run is recorded in the
log, and the evaluation of its expected player actions from the log.

- :func:`load_scenario` / :func:`parse_scenario`: the scenario file
  (``docs/scenarios.md``), every mistake a ``ConfigurationError`` naming line and field.
- :func:`scaled_exercise`: the exercise a server runs for a scenario at a time scale.
- :func:`start_note`, :func:`inject_message_id`: how a run marks the log.
- :func:`evaluate_runs`: each run found in a log, its objectives met or not, with the
  records and times that decided them.
"""

from hotline.server.scenario.evaluation import (
    AlertSeen,
    Evidence,
    InjectOutcome,
    ObjectiveResult,
    Outage,
    RunCollector,
    RunEvaluation,
    Verdict,
    evaluate_runs,
)
from hotline.server.scenario.fields import parse_offset
from hotline.server.scenario.loading import load_scenario, parse_scenario
from hotline.server.scenario.model import (
    USUAL_TIME_SCALES,
    Answer,
    AnswerDelay,
    Inject,
    InjectKind,
    Objective,
    ObjectiveKind,
    Operator,
    PreloadedZone,
    Scenario,
    Seat,
    SimulatedStation,
    SimulatedUnit,
    StationName,
    Waypoint,
    Window,
    scaled_exercise,
)
from hotline.server.scenario.recording import (
    ScenarioError,
    StartNote,
    inject_message_id,
    read_start_note,
    start_note,
)

__all__ = [
    "USUAL_TIME_SCALES",
    "AlertSeen",
    "Answer",
    "AnswerDelay",
    "Evidence",
    "Inject",
    "InjectKind",
    "InjectOutcome",
    "Objective",
    "ObjectiveKind",
    "ObjectiveResult",
    "Operator",
    "Outage",
    "PreloadedZone",
    "RunCollector",
    "RunEvaluation",
    "Scenario",
    "ScenarioError",
    "Seat",
    "SimulatedStation",
    "SimulatedUnit",
    "StartNote",
    "StationName",
    "Verdict",
    "Waypoint",
    "Window",
    "evaluate_runs",
    "inject_message_id",
    "load_scenario",
    "parse_offset",
    "parse_scenario",
    "read_start_note",
    "scaled_exercise",
    "start_note",
]
