"""``kill -9`` and a restart on the same log: nothing confirmed is lost, and every
pending deadline is rebuilt and fires (those that fell due while down, at once)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fixtures.postgres import postgres_server, postgres_url  # noqa: F401
from harness import AIR, ServerProcess, expect, is_alert

from hotline.client.station import StationClient
from hotline.server.exercise import load_exercise
from hotline.server.identity import Credential, TokenAuthority, load_or_create_secret
from hotline.v1 import acknowledgments_pb2, common_pb2, messages_pb2

EXERCISE = """
[exercise]
id = "crash-drill"
name = "Crash drill"

[[parties]]
id = "BLUE"

[[parties]]
id = "RED"

[policy.deadlines.ROUTINE]
receipt = "1s"
response = "2s"
"""


def token(data: Path, exercise_file: Path, party: str) -> str:
    exercise = load_exercise(exercise_file)
    authority = TokenAuthority(load_or_create_secret(data / "token.key"), exercise)
    return authority.issue(
        Credential(subject=party, role=common_pb2.ROLE_PARTICIPANT, party=party, hotline=AIR)
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str:
    """The log's backend: the embedded SQLite file, or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        return ""
    url: str = request.getfixturevalue("postgres_url")
    return url


async def test_kill_9_loses_nothing_confirmed_and_deadlines_fire_after_restart(
    tmp_path: Path, database: str
) -> None:
    data = tmp_path / "data"
    exercise_file = tmp_path / "exercise.toml"
    exercise_file.write_text(EXERCISE)
    blue_token = token(data, exercise_file, "BLUE")
    red_token = token(data, exercise_file, "RED")

    first = ServerProcess(data, exercise_file, database)
    address = first.start()
    async with StationClient(address, blue_token) as blue:
        confirmed = await asyncio.gather(
            *(blue.send(messages_pb2.TextMessage(text=f"report {i}")) for i in range(50))
        )
        resume_blue = blue.last_sequence
    first.kill()
    # The response deadline (2 s) passes while the server is down.
    await asyncio.sleep(2.5)

    second = ServerProcess(data, exercise_file, database)
    address = second.start()
    try:
        async with StationClient(address, blue_token, resume_after=resume_blue) as blue:
            overdue = await expect(blue, is_alert(acknowledgments_pb2.ALERT_KIND_ACK_OVERDUE))
            assert overdue.alert.message_id in {c.message_id for c in confirmed}
            async with StationClient(address, red_token) as red:
                owed = [await red.next_delivery(within=10) for _ in range(50)]
        assert [d.message_id for d in owed] == [
            c.message_id for c in sorted(confirmed, key=lambda c: c.sequence)
        ]
        assert [d.sequence for d in owed] == sorted(c.sequence for c in confirmed)
    finally:
        assert second.terminate() == 0
