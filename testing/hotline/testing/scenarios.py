"""Scenario runs against a real server in the test's event loop.

``run_scenario`` serves the scenario's exercise (its policy divided by the time scale,
as ``hotline serve --scenario`` does), plays the scenario unattended with the runner of
``hotline exercise run`` and returns the log it left, ready to evaluate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hotline.cli.scenario.progress import Progress
from hotline.cli.scenario.runner import RunResult, ScenarioRunner
from hotline.server.scenario import Scenario, Seat, StationName, scaled_exercise
from hotline.server.storage import open_backend
from hotline.testing.harness import Harness, running_server
from hotline.v1 import common_pb2, log_pb2


@dataclass(frozen=True)
class HarnessCredentials:
    """The runner's tokens, issued by the harness's token authority."""

    harness: Harness

    def control(self) -> str:
        return self.harness.role_token(common_pb2.ROLE_EXERCISE_CONTROL)

    def station(self, station: StationName, seat: Seat) -> str:
        return self.harness.token(station.party, station.hotline, standby=seat is Seat.STANDBY)


@dataclass(frozen=True)
class ScenarioLog:
    result: RunResult
    records: list[tuple[int, log_pb2.LogRecord]]
    data_dir: Path


def read_log(data_dir: Path) -> list[tuple[int, log_pb2.LogRecord]]:
    backend = open_backend(str(data_dir / "hotline.sqlite"), create=False)
    try:
        return [(s.index, log_pb2.LogRecord.FromString(s.data)) for s in backend.read()]
    finally:
        backend.close()


async def run_scenario(
    scenario: Scenario, data_dir: Path, on_progress: Callable[[Progress], None] | None = None
) -> ScenarioLog:
    """Serves ``scenario``'s exercise in ``data_dir``, runs the scenario to its end and
    returns the run and the whole log once the server has stopped; ``on_progress`` sees
    what the live view would show."""
    assert scenario.exercise is not None
    exercise = scaled_exercise(scenario.exercise, scenario.time_scale)
    async with running_server(data_dir, exercise) as harness:
        runner = ScenarioRunner(
            scenario, harness.address, HarnessCredentials(harness), on_progress=on_progress
        )
        result = await runner.run()
    return ScenarioLog(result, read_log(data_dir), data_dir)
