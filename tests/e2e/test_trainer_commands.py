"""The trainer's commands typed into real processes: ``hotline watch`` (filters, and
going on after the server restarts), ``hotline control suspend|resume|inject``."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.testing.harness import ServerProcess

HOTLINE = [sys.executable, "-m", "hotline.cli"]
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def hotline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HOTLINE, *args], capture_output=True, text=True, timeout=60, check=False
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path / "data",
        options=["--scenario", str(SCENARIOS / "deir-ezzor-2016.toml"),
                 "--listen", f"127.0.0.1:{free_port()}"],
    )  # fmt: skip
    process.start()
    try:
        yield process
    finally:
        if process.process is not None and process.process.poll() is None:
            process.terminate()


def control_token(server: ServerProcess, tmp_path: Path) -> Path:
    token = tmp_path / "control.token"
    issued = hotline(
        "token", "--role", "control", "--data-dir", str(server.data_dir),
        "--exercise", str(SCENARIOS / "syria.exercise.toml"), "-o", str(token),
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    return token


class Watch:
    """A ``hotline watch`` process and the lines it printed."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def until(self, text: str, within: float = 30.0) -> str:
        """The first line holding ``text`` from now on."""
        try:
            return await asyncio.wait_for(self._read_until(text), within)
        except TimeoutError:
            raise AssertionError(f"no {text!r} within {within} s: {self.lines}") from None

    async def _read_until(self, text: str) -> str:
        assert self.process.stdout is not None
        while True:
            line = (await self.process.stdout.readline()).decode()
            assert line, f"watch ended before {text!r}: {self.lines}"
            self.lines.append(line.rstrip())
            if text in line:
                return line.rstrip()


async def test_a_trainer_suspends_resumes_and_injects_while_watching(
    server: ServerProcess, tmp_path: Path
) -> None:
    token = str(control_token(server, tmp_path))
    connection = ["--address", server.address, "--token-file", token]
    process = await asyncio.create_subprocess_exec(
        *HOTLINE, "watch", *connection, "--hotline", "AIR_OPERATIONS", "--from", "0",
        "--kind", "HOTLINE_SUSPENDED", "--kind", "hotline_resumed", "--kind", "stop_request",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    watch = Watch(process)
    try:
        suspended = await asyncio.to_thread(
            hotline, "control", "suspend", "AIR_OPERATIONS", "--reason", "drill", *connection
        )
        assert suspended.returncode == 0, suspended.stderr
        line = await watch.until("HOTLINE_SUSPENDED")
        assert "AIR_OPERATIONS" in line
        assert "drill" in line
        again = await asyncio.to_thread(
            hotline, "control", "suspend", "AIR_OPERATIONS", "--reason", "twice", *connection
        )
        assert again.returncode == 1
        assert "FAILED_PRECONDITION" in again.stderr
        assert "AIR_OPERATIONS is already suspended" in again.stderr
        resumed = await asyncio.to_thread(
            hotline, "control", "resume", "AIR_OPERATIONS", *connection
        )
        assert resumed.returncode == 0, resumed.stderr
        await watch.until("HOTLINE_RESUMED")

        # The server restarts on the same address; the watch goes on after it.
        await asyncio.to_thread(server.terminate)
        await asyncio.to_thread(server.start)
        injected = await asyncio.to_thread(
            hotline, "control", "inject", str(SCENARIOS / "deir-ezzor-2016.toml"), "S1",
            "--data-dir", str(server.data_dir), "--address", server.address,
        )  # fmt: skip
        assert injected.returncode == 0, injected.stderr
        line = await watch.until("by-hand.S1")
        assert "RED/AIR_OPERATIONS" in line
        assert "STOP REQUEST" in line
        # Nothing but what the filters let through, nothing twice.
        assert len(watch.lines) == 3
    finally:
        process.terminate()
        _, errors = await process.communicate()
    assert "connection lost" in errors.decode()


def test_a_trainer_lists_the_zones_and_shows_one_with_its_versions(
    server: ServerProcess, tmp_path: Path
) -> None:
    exercise = ["--data-dir", str(server.data_dir),
                "--exercise", str(SCENARIOS / "syria.exercise.toml")]  # fmt: skip
    tokens = {party: tmp_path / f"{party}.token" for party in ("BLUE", "RED")}
    for party, path in tokens.items():
        issued = hotline("token", *exercise, "--party", party, "--hotline", "GROUND_COMMANDERS",
                         "-o", str(path))  # fmt: skip
        assert issued.returncode == 0, issued.stderr
    at = ["--address", server.address]
    proposed = hotline(
        "send", "zone-propose", *at, "--token-file", str(tokens["BLUE"]),
        "--zone-id", "NFA-KHASHAM", "--name", "Khasham", "--kind", "NFA",
        "--circle", "35.29,40.26,5000", "--ceiling", "3000",
    )  # fmt: skip
    assert proposed.returncode == 0, proposed.stderr
    accepted = hotline(
        "send", "zone-decide", "accept", *at, "--token-file", str(tokens["RED"]),
        "--zone-id", "NFA-KHASHAM", "--version", "1",
    )  # fmt: skip
    assert accepted.returncode == 0, accepted.stderr
    control = ["--token-file", str(control_token(server, tmp_path)), *at]

    listed = hotline("zones", *control, "--owner", "blue")
    shown = hotline("zones", "NFA-KHASHAM", *control)
    none = hotline("zones", *control, "--state", "WITHDRAWN")

    assert listed.returncode == 0, listed.stderr
    [zone] = listed.stdout.splitlines()
    assert zone.startswith('NFA-KHASHAM v1 ACTIVE NO_FIRE_AREA BLUE "Khasham" 0-3000 m')
    assert shown.stdout.splitlines()[1].startswith("  v1 proposed by BLUE: NFA-KHASHAM v1")
    assert none.stdout.strip() == "no zone"
