"""How a scenario run marks the exercise's log, and how those marks are read back.

The start note's first line says which scenario ran, at which time scale and with
which seed; after a blank line comes the scenario file's text, so that a log is judged
against the very scenario that ran.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hotline.server.scenario.model import Scenario

_START = re.compile(
    r"^scenario run (?P<run>\S+) started: time scale (?P<scale>[0-9.]+), "
    r"seed (?P<seed>-?\d+): (?P<name>.*)$"
)


class ScenarioError(Exception):
    """A scenario cannot run or be judged as asked (the server runs another exercise or
    another time scale; a log without the run)."""


@dataclass(frozen=True)
class StartNote:
    run_id: str
    name: str
    time_scale: float
    seed: int
    source: str


def inject_message_id(run_id: str, inject_id: str) -> str:
    """The message id an inject's message is sent with: ``<run id>.<inject id>``."""
    return f"{run_id}.{inject_id}"


def start_note(scenario: Scenario, run_id: str) -> str:
    return (
        f"scenario run {run_id} started: time scale {scenario.time_scale:g}, "
        f"seed {scenario.seed}: {' '.join(scenario.name.split())}\n\n{scenario.source}"
    )


def read_start_note(text: str) -> StartNote | None:
    """The start note's facts; None for any other note."""
    first, _, source = text.partition("\n\n")
    match = _START.match(first)
    if match is None:
        return None
    return StartNote(
        run_id=match["run"],
        name=match["name"],
        time_scale=float(match["scale"]),
        seed=int(match["seed"]),
        source=source,
    )
