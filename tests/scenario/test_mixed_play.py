"""Mixed play: a station named as played is left to a person at a console; the runner
plays the rest, and the person's answer is judged like any other."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hotline.cli.scenario.runner import ScenarioRunner
from hotline.server.scenario import Verdict, evaluate_runs, parse_scenario, scaled_exercise
from hotline.testing.harness import AIR, expect, running_server
from hotline.testing.scenarios import HarnessCredentials, read_log
from hotline.v1 import acknowledgments_pb2, log_pb2

SCENARIO = """
[scenario]
name = "Mixed play"
time_scale = 60
seed = 3
duration = "4m"
played = ["BLUE/AIR_OPERATIONS"]

[exercise]
id = "mixed"

[[parties]]
id = "BLUE"

[[parties]]
id = "RED"

[[injects]]
id = "S1"
at = "30s"
from = "RED/AIR_OPERATIONS"
message = { stop_request = { reason = "You are hitting our people" } }

[[objectives]]
id = "O1"
kind = "answered_within"
party = "BLUE"
inject = "S1"
within = "2m"
"""


async def test_a_person_plays_one_station_and_is_judged(tmp_path: Path) -> None:
    scenario = parse_scenario(SCENARIO, name="mixed.toml")
    assert scenario.exercise is not None
    exercise = scaled_exercise(scenario.exercise, 60)
    async with (
        running_server(tmp_path, exercise) as harness,
        harness.station("BLUE", AIR) as person,
    ):
        runner = ScenarioRunner(scenario, harness.address, HarnessCredentials(harness))
        run = asyncio.create_task(runner.run())
        stop = await expect(person, lambda e: e.WhichOneof("body") == "stop_request")
        await person.acknowledge(stop, acknowledgments_pb2.ACK_KIND_WILCO)
        result = await run
    assert result.problems == ()
    records = read_log(tmp_path)
    blue_air_sessions = [
        r
        for _, r in records
        if r.kind == log_pb2.RECORD_KIND_STATION_CONNECTED
        and r.station_session.station.party == "BLUE"
        and r.hotline == AIR
    ]
    assert len(blue_air_sessions) == 1, "the runner leaves the played station alone"
    [evaluation] = evaluate_runs(records)
    [objective] = evaluation.objectives
    assert objective.verdict is Verdict.MET
    assert objective.reason.startswith("WILCO from BLUE/AIR_OPERATIONS primary")
