"""The README's walkthrough, typed into real ``hotline`` processes."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.client import HotlineClient
from hotline.server.app import serve
from hotline.server.errors import ConfigurationError
from hotline.server.settings import Settings
from hotline.testing.harness import ServerProcess
from hotline.v1 import zones_pb2

HOTLINE = [sys.executable, "-m", "hotline.cli"]


def hotline(*args: str) -> str:
    return subprocess.run(
        [*HOTLINE, *args], check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()


class Console:
    """A ``hotline station`` process, driven through its standard input and output."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    @classmethod
    async def start(cls, address: str, token_file: Path) -> Console:
        process = await asyncio.create_subprocess_exec(
            *HOTLINE, "station", "--address", address, "--token-file", str(token_file),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        return cls(process)

    async def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n".encode())
        await self.process.stdin.drain()

    async def read_until(self, text: str, within: float = 20.0) -> str:
        assert self.process.stdout is not None
        async with asyncio.timeout(within):
            while True:
                line = (await self.process.stdout.readline()).decode()
                if not line:
                    raise AssertionError(f"console ended before {text!r}: {self.lines}")
                self.lines.append(line.rstrip())
                if text in line:
                    return line.rstrip()

    async def quit(self) -> int:
        await self.type("quit")
        return await asyncio.wait_for(self.process.wait(), 20)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    data = tmp_path / "data"
    server = ServerProcess(data)
    server.start()
    yield server, data
    assert server.terminate() == 0


async def test_two_air_operations_officers_exchange_and_acknowledge_a_message(
    served: tuple[ServerProcess, Path],
) -> None:
    server, data = served
    blue_token, red_token = data.parent / "blue.token", data.parent / "red.token"
    hotline(
        "token", "--data-dir", str(data), "--party", "BLUE", "--hotline", "AIR_OPERATIONS",
        "-o", str(blue_token),
    )  # fmt: skip
    hotline(
        "token", "--data-dir", str(data), "--party", "RED", "--hotline", "air-operations",
        "-o", str(red_token),
    )  # fmt: skip

    red = await Console.start(server.address, red_token)
    blue = await Console.start(server.address, blue_token)
    await red.read_until("connected as RED")
    await blue.read_until("connected as BLUE")

    await blue.type("immediate Strike package over Deir Ezzor at 0600Z, keep clear")
    recorded = await blue.read_until("-> recorded as #")
    sequence = recorded.split("#")[1].split()[0]

    delivery = await red.read_until("Strike package over Deir Ezzor")
    assert f"#{sequence} IMMEDIATE BLUE" in delivery
    assert f"(answer: wilco #{sequence} | roger #{sequence} | unable #{sequence} REASON)" in (
        delivery
    )
    await blue.read_until(f"RECEIPT for #{sequence} from RED")

    await red.type(f"wilco {sequence}")
    await red.read_until(f"-> WILCO for #{sequence} recorded as #")
    await blue.read_until(f"WILCO for #{sequence} from RED")

    # A mistake at the keyboard is refused, and the console goes on.
    await red.type(f"roger {sequence}")
    refused = await red.read_until("?? refused")
    assert "first answer counts" in refused

    assert await red.quit() == 0
    assert await blue.quit() == 0

    control = data.parent / "control.token"
    hotline("token", "--data-dir", str(data), "--role", "control", "-o", str(control))
    status = hotline("status", "--address", server.address, "--token-file", str(control))
    assert "AIR_OPERATIONS" in status
    assert "answered" in status
    # RED's primary seat gave the one answer.
    (red_line,) = [line for line in status.splitlines() if line.startswith("RED/AIR_OPERATIONS")]
    assert red_line.split()[-1] == "1+0"


def test_one_shot_send_and_a_clear_error(served: tuple[ServerProcess, Path]) -> None:
    server, data = served
    token = hotline(
        "token", "--data-dir", str(data), "--party", "BLUE", "--hotline", "GROUND_COMMANDERS"
    )
    out = hotline(
        "send", "position", "--address", server.address, "--token", token,
        "--unit", "B-COY-1", "--domain", "GROUND", "--lat", "35.30", "--lon", "40.20",
    )  # fmt: skip
    assert out.startswith("recorded on GROUND_COMMANDERS as #")

    bad = subprocess.run(
        [*HOTLINE, "send", "position", "--address", server.address, "--token", token,
         "--unit", "B-COY-1", "--domain", "GROUND", "--lat", "135", "--lon", "40.20"],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode != 0
    assert "INVALID_ARGUMENT" in bad.stderr
    assert "latitude: 135.0 is outside [-90, 90]" in bad.stderr


def test_zones_by_one_shot_commands(served: tuple[ServerProcess, Path]) -> None:
    server, data = served
    blue = hotline(
        "token", "--data-dir", str(data), "--party", "BLUE", "--hotline", "GROUND_COMMANDERS"
    )
    red = hotline(
        "token", "--data-dir", str(data), "--party", "RED", "--hotline", "GROUND_COMMANDERS"
    )
    control = hotline("token", "--data-dir", str(data), "--role", "control")
    at = ["--address", server.address]
    circle = ["--circle", "35.29,40.26,5000", "--kind", "NO_FIRE_AREA"]
    hotline("send", "zone-propose", *at, "--token", blue, "--zone-id", "NFA-KHASHAM", *circle)
    hotline("send", "zone-update", *at, "--token", blue, "--zone-id", "NFA-KHASHAM",
            "--circle", "35.29,40.26,8000", "--kind", "NO_FIRE_AREA")  # fmt: skip
    hotline("send", "zone-decide", "counter", *at, "--token", red, "--zone-id", "NFA-KHASHAM",
            "--version", "2", "--circle", "35.29,40.26,6000", "--kind", "NO_FIRE_AREA")  # fmt: skip
    hotline("send", "zone-decide", "accept", *at, "--token", blue, "--zone-id", "NFA-KHASHAM",
            "--version", "3")  # fmt: skip

    async def zone() -> object:
        async with HotlineClient(server.address, control) as client:
            return await client.zone("NFA-KHASHAM")

    current = asyncio.run(zone())
    assert current.zone.version == 3  # type: ignore[attr-defined]
    assert current.zone.geometry.circle.radius_m == 6000  # type: ignore[attr-defined]
    assert current.zone.state == zones_pb2.ZONE_STATE_ACTIVE  # type: ignore[attr-defined]


def test_a_second_server_on_a_port_in_use_fails_in_one_line_and_writes_nothing(
    served: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    server, _ = served
    fresh = tmp_path / "second"
    second = subprocess.run(
        [*HOTLINE, "serve", "--listen", server.address, "--data-dir", str(fresh)],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert second.returncode == 1
    assert second.stdout == ""
    assert (
        second.stderr
        == f"hotline serve: cannot listen on {server.address}: address already in use\n"
    )
    assert not fresh.exists()


async def test_the_server_binds_its_port_before_it_writes_anything(tmp_path: Path) -> None:
    """Taken between the command's check and the server's own bind, a port still stops
    the start with the reason, before the data directory is made."""
    fresh = tmp_path / "fresh"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(ConfigurationError, match=f"cannot listen on {address}: the port"):
            await serve(Settings(listen=address, data_dir=fresh))
    assert not fresh.exists()
