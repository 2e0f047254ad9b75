"""``hotline serve --scenario``, ``hotline exercise check|run|evaluate`` and ``hotline
report`` typed into real processes, as a trainer runs a scenario."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.cli.scenario.command import IssuedCredentials
from hotline.client import HotlineClient
from hotline.server.exercise import hotline_name
from hotline.server.identity import TokenAuthority, load_or_create_secret
from hotline.server.scenario import Seat, evaluate_runs, load_scenario
from hotline.server.settings import Settings
from hotline.testing.harness import ServerProcess
from hotline.testing.scenarios import read_log
from hotline.v1 import log_pb2

HOTLINE = [sys.executable, "-m", "hotline.cli"]
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
DEIR_EZZOR = SCENARIOS / "deir-ezzor-2016.toml"


def hotline(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HOTLINE, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def scenario_server(tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(
        tmp_path / "data", options=["--scenario", str(DEIR_EZZOR), "--time-scale", "60"]
    )
    server.start()
    try:
        yield server
    finally:
        server.terminate()


def test_a_trainer_runs_a_scenario_and_reads_its_evaluation(
    scenario_server: ServerProcess, tmp_path: Path
) -> None:
    data = scenario_server.data_dir
    run = hotline(
        "exercise", "run", str(DEIR_EZZOR), "--time-scale", "60", "--quiet",
        "--data-dir", str(data), "--address", scenario_server.address,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "log records" in run.stdout
    scenario_server.terminate()

    log, key = str(data / "hotline.sqlite"), str(data / "signing.pub")
    evaluation = hotline("exercise", "evaluate", log, "--key", key)
    assert evaluation.returncode == 0, evaluation.stdout + evaluation.stderr
    assert "objectives met: 1 of 1" in evaluation.stdout
    assert "[MET] O1" in evaluation.stdout
    assert "WILCO from BLUE/AIR_OPERATIONS standby" in evaluation.stdout
    assert "alert ACK_OVERDUE" in evaluation.stdout

    report = tmp_path / "report.html"
    written = hotline("report", log, "--key", key, "-o", str(report))
    assert written.returncode == 0, written.stderr
    page = report.read_text()
    assert "Deir Ezzor 2016: the point of contact is away" in page
    assert 'data-verdict="MET"' in page


def test_a_runner_refuses_a_server_at_another_time_scale(
    scenario_server: ServerProcess,
) -> None:
    run = hotline(
        "exercise", "run", str(DEIR_EZZOR), "--time-scale", "10", "--quiet",
        "--data-dir", str(scenario_server.data_dir), "--address", scenario_server.address,
    )  # fmt: skip
    assert run.returncode == 1
    assert "at time scale 10 needs 6 s" in run.stderr
    assert "--time-scale" in run.stderr


def test_check_names_the_line_and_field_of_a_mistake(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(
        DEIR_EZZOR.read_text().replace('at = "1m"', 'at = "soon"', 1), encoding="utf-8"
    )
    (tmp_path / "syria.exercise.toml").write_text(
        (SCENARIOS / "syria.exercise.toml").read_text(), encoding="utf-8"
    )
    line = 1 + broken.read_text().splitlines().index('at = "soon"')

    checked = hotline("exercise", "check", str(broken))

    assert checked.returncode == 1
    assert checked.stderr.startswith(
        f"hotline exercise check: {broken}:{line}: injects[0].at: expected exercise time"
    )
    assert hotline("exercise", "check", str(DEIR_EZZOR)).returncode == 0


def test_credentials_for_a_scenario_with_its_exercise_inline(tmp_path: Path) -> None:
    inline = SCENARIOS / "line-suspension-2017.toml"
    server = ServerProcess(tmp_path / "data", options=["--scenario", str(inline)])
    server.start()
    try:
        token = tmp_path / "red.token"
        issued = hotline(
            "token", "--scenario", str(inline), "--data-dir", str(server.data_dir),
            "--party", "RED", "--hotline", "AIR_OPERATIONS", "-o", str(token),
        )  # fmt: skip
        assert issued.returncode == 0, issued.stderr
        # The exercise lets a party suspend its own line: RED's station does.
        at = ["--address", server.address, "--token-file", str(token)]
        suspended = hotline("control", "suspend", "AIR_OPERATIONS", "--reason", "2017", *at)
        assert suspended.returncode == 0, suspended.stderr
        refused = hotline("control", "suspend", "GENERALS", "--reason", "not ours", *at)
    finally:
        server.terminate()
    assert refused.returncode == 1
    assert "PERMISSION_DENIED" in refused.stderr
    assert "may suspend or resume only its own hotline" in refused.stderr


async def test_a_run_goes_on_across_a_server_restart(tmp_path: Path) -> None:
    server = ServerProcess(
        tmp_path / "data",
        options=["--scenario", str(DEIR_EZZOR), "--time-scale", "60",
                 "--listen", f"127.0.0.1:{free_port()}"],
    )  # fmt: skip
    server.start()
    runner = await asyncio.create_subprocess_exec(
        *HOTLINE, "exercise", "run", str(DEIR_EZZOR), "--time-scale", "60", "--quiet",
        "--data-dir", str(server.data_dir), "--address", server.address,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        control = hotline(
            "token", "--role", "control", "--scenario", str(DEIR_EZZOR),
            "--data-dir", str(server.data_dir),
        ).stdout.strip()  # fmt: skip
        async with HotlineClient(server.address, control) as watcher:
            async for record in watcher.watch(resume_after_index=0):
                if record.annotation.bookmark.startswith("scenario:"):
                    break
        # The run has started: the server stops and comes back on the same address.
        await asyncio.to_thread(server.terminate)
        await asyncio.to_thread(server.start)
        _, errors = await asyncio.wait_for(runner.communicate(), 60)
    finally:
        if runner.returncode is None:
            runner.kill()
            await runner.wait()
        server.terminate()
    assert runner.returncode == 0, errors.decode()
    evaluated = hotline("exercise", "evaluate", str(server.data_dir / "hotline.sqlite"),
                        "--key", str(server.data_dir / "signing.pub"))  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
    assert "objectives met: 1 of 1" in evaluated.stdout
    assert "not in the log" not in evaluated.stdout
    # The server did stop within the run.
    [run] = evaluate_runs(read_log(server.data_dir))
    assert run.end_index is not None
    stops = [
        index
        for index, record in read_log(server.data_dir)
        if record.kind == log_pb2.RECORD_KIND_SERVER_STOPPED
    ]
    assert any(run.start_index < index < run.end_index for index in stops)


def test_a_run_on_credentials_read_from_files(
    scenario_server: ServerProcess, tmp_path: Path
) -> None:
    scenario = load_scenario(DEIR_EZZOR)
    assert scenario.exercise is not None
    secret = load_or_create_secret(Settings(data_dir=scenario_server.data_dir).token_secret_file)
    authority = TokenAuthority(secret, scenario.exercise)
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    for station in scenario.simulated:
        for seat in Seat:
            token = IssuedCredentials(authority, ttl_s=3600).station(station, seat)
            suffix = "-standby" if seat is Seat.STANDBY else ""
            (tokens / f"{station.party}-{hotline_name(station.hotline)}{suffix}.token").write_text(
                token
            )
    control = tmp_path / "control.token"
    control.write_text(IssuedCredentials(authority, ttl_s=3600).control())

    run = hotline(
        "exercise", "run", str(DEIR_EZZOR), "--time-scale", "60", "--quiet",
        "--station-tokens", str(tokens), "--token-file", str(control),
        "--address", scenario_server.address,
    )  # fmt: skip
    missing = hotline(
        "exercise", "run", str(DEIR_EZZOR), "--time-scale", "60", "--quiet",
        "--station-tokens", str(tmp_path), "--token-file", str(control),
        "--address", scenario_server.address,
    )  # fmt: skip

    assert run.returncode == 0, run.stderr
    assert missing.returncode == 1
    assert "no credential for simulated BLUE/AIR_OPERATIONS primary" in missing.stderr
