"""Annotations after the fact: the trainer serves the exercise's data directory again,
annotates an earlier record with ``hotline annotate``, and the replay shows the note
after the original records, which are untouched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hotline.server.storage import open_backend
from hotline.testing.audit_logs import execute
from hotline.testing.commands import run_hotline
from hotline.testing.harness import AIR, Harness, expect, is_ack, running_server
from hotline.v1 import acknowledgments_pb2, common_pb2, messages_pb2


def stored(log: Path) -> list[tuple[int, bytes]]:
    backend = open_backend(str(log), create=False)
    try:
        return [(s.index, s.data) for s in backend.read()]
    finally:
        backend.close()


def annotate(server: Harness, *args: str) -> list[str]:
    token = server.role_token(common_pb2.ROLE_EXERCISE_CONTROL)
    return ["annotate", *args, "--address", server.address, "--token", token]


async def replayed(capsys: pytest.CaptureFixture[str], data_dir: Path) -> list[Any]:
    """The log of ``data_dir`` as ``hotline replay --json`` shows it, verified."""
    log, key = data_dir / "hotline.sqlite", data_dir / "signing.pub"
    code, out, err = await run_hotline(
        capsys, "replay", str(log), "--key", str(key), "--speed", "0", "--json"
    )
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


async def test_a_note_written_after_the_exercise_is_appended_and_nothing_is_edited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    async with (
        running_server(data) as server,
        server.station("BLUE", AIR) as blue,
        server.station("RED", AIR) as red,
    ):
        strike = await blue.send(
            messages_pb2.TextMessage(text="Strike package over Deir Ezzor at 0600Z"),
            common_pb2.PRIORITY_IMMEDIATE,
        )
        delivery = await expect(red, lambda e: e.message_id == strike.message_id)
        await red.acknowledge(delivery, acknowledgments_pb2.ACK_KIND_WILCO)
        await expect(blue, is_ack(strike.message_id, acknowledgments_pb2.ACK_KIND_WILCO))
    before = stored(data / "hotline.sqlite")
    strike_index = next(
        i
        for i, d in enumerate(await replayed(capsys, data))
        if d.get("correlationId") == strike.message_id
    )

    # Afterwards: the trainer serves the same data directory again and annotates.
    async with running_server(data) as server:
        code, out, err = await run_hotline(
            capsys,
            *annotate(
                server,
                "RED answered within the minute",
                "--bookmark",
                "strike-1",
                "--record",
                str(strike_index),
            ),
        )
        assert code == 0, err
        assert out.startswith("annotation recorded as log record ")
        note_index = int(out.strip().rsplit(" ", 1)[1])
        assert note_index >= len(before)

        code, out, err = await run_hotline(
            capsys, *annotate(server, "too late", "--record", "100000")
        )
        assert code != 0
        assert "OUT_OF_RANGE" in err
        assert "about_index" in err

    documents = await replayed(capsys, data)
    assert stored(data / "hotline.sqlite")[: len(before)] == before
    notes = [d for d in documents if d["kind"] == "RECORD_KIND_ANNOTATION"]
    assert [d["index"] for d in notes] == [str(note_index)]
    annotation = notes[0]["annotation"]
    assert annotation["text"] == "RED answered within the minute"
    assert annotation["bookmark"] == "strike-1"
    assert annotation["aboutIndex"] == str(strike_index)
    assert notes[0]["actor"].startswith("EXERCISE_CONTROL:")


async def test_a_note_about_a_moment_records_the_moment(
    server: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = await run_hotline(
        capsys,
        *annotate(
            server,
            "Strike window opened",
            "--at",
            "2026-01-05T06:00Z",
            "--hotline",
            "AIR_OPERATIONS",
        ),
    )
    assert code == 0, err
    index = int(out.strip().rsplit(" ", 1)[1])
    async with server.control() as control:
        async for record in control.watch(resume_after_index=index - 1):
            if record.index == index:
                break
    assert record.annotation.text == "Strike window opened"
    assert record.annotation.about_time.ToJsonString() == "2026-01-05T06:00:00Z"
    assert not record.annotation.HasField("about_index")
    assert record.hotline == AIR

    code, _, err = await run_hotline(
        capsys, *annotate(server, "later", "--at", "2999-01-01T00:00Z")
    )
    assert code != 0
    assert "about_time" in err
    assert "future" in err


@pytest.mark.parametrize("from_snapshot", [True, False], ids=["snapshot", "whole-log"])
async def test_a_bookmark_name_marks_one_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], from_snapshot: bool
) -> None:
    data = tmp_path / "data"
    async with running_server(data) as server:
        code, out, err = await run_hotline(
            capsys, *annotate(server, "first strike", "--bookmark", "strike-1")
        )
        assert code == 0, err
        first = int(out.strip().rsplit(" ", 1)[1])
        code, _, err = await run_hotline(
            capsys, *annotate(server, "again", "--bookmark", "strike-1")
        )
        assert code == 1
        assert err.strip() == (
            f"hotline: ALREADY_EXISTS: bookmark: 'strike-1' is set already (log record "
            f"{first}); a name marks one place: choose another"
        )
    if not from_snapshot:
        execute(str(data / "hotline.sqlite"), "DELETE FROM snapshots")
    # After a restart (from a snapshot, or reading the whole log) the name is still taken.
    async with running_server(data) as server:
        code, _, err = await run_hotline(
            capsys, *annotate(server, "again", "--bookmark", "strike-1")
        )
        assert code == 1
        assert "ALREADY_EXISTS" in err
        code, _, err = await run_hotline(
            capsys, *annotate(server, "the second", "--bookmark", "strike-2")
        )
        assert code == 0, err


async def test_a_note_about_a_consoles_number_is_tied_to_that_messages_record(
    server: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    async with server.station("BLUE", AIR) as blue:
        await blue.send(messages_pb2.TextMessage(text="first"))
        sent = await blue.send(messages_pb2.TextMessage(text="Strike at 0600Z"))
    code, out, err = await run_hotline(
        capsys,
        *annotate(
            server, "the strike notice", "--seq", str(sent.sequence), "--hotline", "air_operations"
        ),
    )
    assert code == 0, err
    index = int(out.strip().rsplit(" ", 1)[1])
    async with server.control() as control:
        records = {}
        async for record in control.watch(resume_after_index=0):
            records[record.index] = record
            if record.index == index:
                break
    note = records[index].annotation
    about = records[note.about_index]
    assert (about.envelope.message_id, about.envelope.sequence) == (sent.message_id, sent.sequence)

    code, _, err = await run_hotline(capsys, *annotate(server, "which?", "--seq", "2"))
    assert (code, err.strip()) == (1, "hotline annotate: --seq counts on a hotline; give --hotline")
    code, _, err = await run_hotline(
        capsys, *annotate(server, "later", "--seq", "999", "--hotline", "AIR_OPERATIONS")
    )
    assert code == 1
    assert "OUT_OF_RANGE: about_sequence: AIR_OPERATIONS has no #999; its last is #" in err
