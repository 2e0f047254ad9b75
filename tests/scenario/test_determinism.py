"""The same scenario, seed and time scale give the same injects and the same simulated
answers; the end of a run stopped early is recorded and its log still verifies."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hotline.cli.scenario.runner import ScenarioRunner
from hotline.server.audit import parse_verifier_key
from hotline.server.audit.stored import verify_stored_log
from hotline.server.scenario import evaluate_runs, parse_scenario, scaled_exercise
from hotline.server.storage import open_backend
from hotline.testing.harness import running_server
from hotline.testing.scenarios import HarnessCredentials, read_log, run_scenario
from hotline.v1 import log_pb2


def _message(n: int) -> str:
    """Texts and incident reports by turns, every 10 s."""
    body = (
        f"text = {{ text = 'check {n}' }}"
        if n % 2
        else f"incident_report = {{ description = 'report {n}' }}"
    )
    return (
        f'[[injects]]\nid = "M{n}"\nat = "{10 * n}s"\nfrom = "BLUE/AIR_OPERATIONS"\n'
        f"message = {{ {body} }}\n"
    )


MESSAGES = "\n".join(_message(n) for n in range(1, 9))

SCENARIO = f"""
[scenario]
name = "Seeded operators"
time_scale = 60
seed = 42
duration = "4m"

[exercise]
id = "seeded"

[[parties]]
id = "BLUE"

[[parties]]
id = "RED"

[[simulated]]
station = "RED/AIR_OPERATIONS"
standby = {{ answer_probability = 0 }}

[simulated.primary]
delay = {{ uniform = ["5s", "40s"] }}
answer_probability = 0.6
answer = {{ text = "ROGER", incident_report = "UNABLE: not ours", default = "WILCO" }}
{MESSAGES}
"""


def answers(records: list[tuple[int, log_pb2.LogRecord]]) -> list[tuple[str, str, str]]:
    [evaluation] = evaluate_runs(records)
    return [(o.inject.inject_id, o.answer, o.answered_by) for o in evaluation.injects]


async def test_the_same_seed_gives_the_same_answers(tmp_path: Path) -> None:
    scenario = parse_scenario(SCENARIO, name="seeded.toml")

    first = await run_scenario(scenario, tmp_path / "first")
    second = await run_scenario(scenario, tmp_path / "second")

    assert answers(first.records) == answers(second.records)
    given = [a for _, a, _ in answers(first.records)]
    # The seed decides which go unanswered (probability 0.6), and the answer by kind.
    assert "" in given
    assert {"ROGER", "UNABLE"} <= set(given)


async def test_a_run_stopped_early_records_its_end_and_the_log_verifies(tmp_path: Path) -> None:
    scenario = parse_scenario(SCENARIO, name="seeded.toml")
    assert scenario.exercise is not None
    async with running_server(tmp_path, scaled_exercise(scenario.exercise, 60)) as harness:
        runner = ScenarioRunner(scenario, harness.address, HarnessCredentials(harness))
        run = asyncio.create_task(runner.run())
        async with harness.control() as control:
            async for record in control.watch(resume_after_index=0):
                if record.annotation.bookmark == f"{runner.run_id}/M2":
                    break
        run.cancel()
        await asyncio.gather(run, return_exceptions=True)
    records = read_log(tmp_path)
    [evaluation] = evaluate_runs(records)
    assert evaluation.end_index is not None
    played = [o.inject.inject_id for o in evaluation.injects if o.index is not None]
    assert played[:2] == ["M1", "M2"]
    assert len(played) < 8
    backend = open_backend(str(tmp_path / "hotline.sqlite"), create=False)
    try:
        key = parse_verifier_key((tmp_path / "signing.pub").read_text().strip())
        report = verify_stored_log(backend, key)
    finally:
        backend.close()
    assert report.ok, report.problems
