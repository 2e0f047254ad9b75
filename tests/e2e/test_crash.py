"""``kill -9`` and a restart on the same log: nothing confirmed is lost, and every
pending deadline is rebuilt and fires. That those which fell due while the server was
down fire at once when it is back is shown on a fake clock, in
``tests/server/test_escalation_drills.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from hotline.client import HotlineClient, StationClient
from hotline.server.audit.stored import verify_stored_log
from hotline.server.audit.trail import load_or_create_signer
from hotline.server.exercise import load_exercise
from hotline.server.identity import Credential, TokenAuthority, load_or_create_secret
from hotline.server.storage import open_backend
from hotline.testing.harness import AIR, ServerProcess, expect, is_alert
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2, log_pb2, messages_pb2

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

    second = ServerProcess(data, exercise_file, database)
    address = second.start()
    try:
        async with StationClient(address, blue_token, resume_after=resume_blue) as blue:
            overdue = await expect(blue, is_alert(acknowledgments_pb2.ALERT_KIND_ACK_OVERDUE))
            assert overdue.alert.message_id in {c.message_id for c in confirmed}
            async with StationClient(address, red_token) as red:
                # The deadlines that fall due meanwhile page RED too: its alerts come
                # between the messages it is owed.
                owed: list[envelope_pb2.Envelope] = []
                while len(owed) < 50:
                    delivery = await red.next_delivery(within=10)
                    if delivery.WhichOneof("body") == "text":
                        owed.append(delivery)
        assert [d.message_id for d in owed] == [
            c.message_id for c in sorted(confirmed, key=lambda c: c.sequence)
        ]
        assert [d.sequence for d in owed] == sorted(c.sequence for c in confirmed)
    finally:
        assert second.terminate() == 0


def control_token(data: Path, exercise_file: Path) -> str:
    authority = TokenAuthority(
        load_or_create_secret(data / "token.key"), load_exercise(exercise_file)
    )
    return authority.issue(Credential(subject="trainer", role=common_pb2.ROLE_EXERCISE_CONTROL))


async def records_until(
    address: str, token: str, done: Callable[[list[log_pb2.LogRecord]], bool]
) -> list[log_pb2.LogRecord]:
    """The whole log, watched until ``done`` says it holds what the test waits for."""
    seen: list[log_pb2.LogRecord] = []
    async with HotlineClient(address, token) as control, asyncio.timeout(60):
        async for record in control.watch(resume_after_index=0):
            seen.append(record)
            if done(seen):
                return seen
    raise AssertionError("the watch ended")


def alerts_of(records: list[log_pb2.LogRecord], kind: int) -> list[acknowledgments_pb2.Alert]:
    return [
        r.envelope.alert
        for r in records
        if r.envelope.WhichOneof("body") == "alert" and r.envelope.alert.kind == kind
    ]


async def test_restarts_at_any_moment_change_nothing(
    tmp_path: Path, database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kill -9, a clean stop, kill -9 again, at moments of the escalation chains, with a
    snapshot every 20 records: every chain runs once to its end, no id is recorded twice,
    and the log verifies."""
    monkeypatch.setenv("HOTLINE_SNAPSHOT_RECORDS", "20")
    data = tmp_path / "data"
    exercise_file = tmp_path / "exercise.toml"
    exercise_file.write_text(EXERCISE)
    blue_token = token(data, exercise_file, "BLUE")
    trainer = control_token(data, exercise_file)
    sent = 12

    server = ServerProcess(data, exercise_file, database)
    address = server.start()
    async with StationClient(address, blue_token) as blue:
        messages = await asyncio.gather(
            *(blue.send(messages_pb2.TextMessage(text=f"report {i}")) for i in range(sent))
        )
    ids = {m.message_id for m in messages}

    def escalations(records: list[log_pb2.LogRecord]) -> int:
        return sum(
            1
            for a in alerts_of(records, acknowledgments_pb2.ALERT_KIND_ESCALATED)
            if a.station.hotline == AIR
        )

    # 1. kill -9 once the first response deadline has passed.
    await records_until(
        address, trainer, lambda r: bool(alerts_of(r, acknowledgments_pb2.ALERT_KIND_ACK_OVERDUE))
    )
    server.kill()
    # 2. A clean stop once something was escalated after the restart.
    server = ServerProcess(data, exercise_file, database)
    address = server.start()
    await records_until(address, trainer, lambda r: escalations(r) > 0)
    assert server.terminate() == 0
    # 3. kill -9 right after the next start.
    server = ServerProcess(data, exercise_file, database)
    address = server.start()
    server.kill()
    # 4. The last start runs every chain to its end: the copies on GENERALS went
    # unanswered too, so exercise control is alerted for each.
    server = ServerProcess(data, exercise_file, database)
    address = server.start()

    def finished(records: list[log_pb2.LogRecord]) -> bool:
        to_control = [
            a
            for a in alerts_of(records, acknowledgments_pb2.ALERT_KIND_ESCALATED)
            if a.station.hotline == common_pb2.HOTLINE_GENERALS
        ]
        return len(to_control) >= sent

    records = await records_until(address, trainer, finished)
    assert server.terminate() == 0

    envelope_ids = [
        r.envelope.message_id for r in records if r.kind == log_pb2.RECORD_KIND_ENVELOPE
    ]
    assert len(envelope_ids) == len(set(envelope_ids))
    for kind in (
        acknowledgments_pb2.ALERT_KIND_ACK_OVERDUE,
        acknowledgments_pb2.ALERT_KIND_ESCALATED,
    ):
        on_air = [a.message_id for a in alerts_of(records, kind) if a.station.hotline == AIR]
        assert sorted(on_air) == sorted(ids), acknowledgments_pb2.AlertKind.Name(kind)
    copies = [r for r in records if r.envelope.escalation_of]
    assert sorted(c.envelope.escalation_of for c in copies) == sorted(ids)
    backend = open_backend(database or str(data / "hotline.sqlite"), create=False)
    try:
        verifier = load_or_create_signer(data / "signing.key", "x", create=False).verifier
        report = verify_stored_log(backend, verifier)
    finally:
        backend.close()
    assert report.problems == (), [p.message for p in report.problems]
