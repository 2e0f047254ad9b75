"""``hotline replay`` on a log written by the real server: what a trainer sees.

The log is a real SQLite file from ``hotline.server.app.serve``: BLUE and RED trade
messages on two hotlines and exercise control leaves a note. Replays run at speed 0,
each on a copy with the server's verifier key beside it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from hotline.cli import main, replay_shards
from hotline.server.storage import open_backend
from hotline.testing.audit_logs import drop_triggers, execute
from hotline.testing.harness import AIR, GROUND, expect, running_server
from hotline.testing.recorded import Recordings
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2, log_pb2, messages_pb2


def is_message(message_id: str) -> Callable[[envelope_pb2.Envelope], bool]:
    return lambda envelope: envelope.message_id == message_id


def answers(message_id: str) -> Callable[[envelope_pb2.Envelope], bool]:
    return lambda envelope: envelope.acknowledgment.message_id == message_id


async def _exercise(data_dir: Path) -> None:
    async with (
        running_server(data_dir) as server,
        server.station("BLUE", AIR) as blue_air,
        server.station("RED", AIR) as red_air,
        server.station("BLUE", GROUND) as blue_ground,
        server.station("RED", GROUND) as red_ground,
        server.control() as control,
    ):
        for n in (1, 2):
            sent = await blue_air.send(
                messages_pb2.TextMessage(text=f"Strike at grid 37S DV {n}"),
                common_pb2.PRIORITY_IMMEDIATE,
            )
            delivery = await expect(red_air, is_message(sent.message_id))
            await red_air.acknowledge(delivery, acknowledgments_pb2.ACK_KIND_WILCO)
            await expect(blue_air, answers(sent.message_id))
        sent = await red_ground.send(messages_pb2.TextMessage(text="Convoy crossing bridge 4"))
        delivery = await expect(blue_ground, is_message(sent.message_id))
        await blue_ground.acknowledge(delivery, acknowledgments_pb2.ACK_KIND_ROGER)
        await expect(red_ground, answers(sent.message_id))
        await control.annotate("BLUE answered every strike notice")


@pytest.fixture
def log(recordings: Recordings, tmp_path: Path) -> Path:
    """A copy of the recorded log, with the server's verifier key beside it."""
    return recordings.of(_exercise).copy_log(tmp_path)


def replay(
    capsys: pytest.CaptureFixture[str], log: Path, *options: str, key: bool = True
) -> tuple[int, str, str]:
    """Runs ``hotline replay`` at speed 0; the exit status, output and errors."""
    args = ["replay", str(log), "--speed", "0", *options]
    if key:
        args += ["--key", str(log.parent / "signing.pub")]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    assert isinstance(exited.value.code, int)
    return exited.value.code, out, err


def records(capsys: pytest.CaptureFixture[str], log: Path, *options: str) -> list[Any]:
    code, out, err = replay(capsys, log, "--json", *options)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def size(log: Path) -> int:
    backend = open_backend(str(log), create=False)
    try:
        return backend.size()
    finally:
        backend.close()


def text_of(document: dict[str, Any]) -> str:
    return str(document.get("envelope", {}).get("text", {}).get("text", ""))


def at(document: dict[str, Any]) -> int:
    """When the record was recorded, in nanoseconds."""
    moment = Timestamp()
    moment.FromJsonString(document["recordedAt"])
    return moment.ToNanoseconds()


def test_the_whole_exercise_is_replayed_in_order_one_line_per_record(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    code, out, err = replay(capsys, log)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == size(log)
    assert [int(line.split()[0]) for line in lines] == list(range(len(lines)))
    assert "EXERCISE_STARTED" in lines[0]
    assert "T+00:00:00" in lines[0]
    strikes = [i for i, line in enumerate(lines) if "text: Strike at grid 37S DV" in line]
    wilcos = [i for i, line in enumerate(lines) if "WILCO for" in line]
    assert len(strikes) == len(wilcos) == 2
    assert strikes[0] < wilcos[0] < strikes[1] < wilcos[1]
    assert any("BLUE/AIR_OPERATIONS" in line and "IMMEDIATE BLUE" in line for line in lines)
    assert "BLUE answered every strike notice" in out


def test_json_lines_carry_the_record_and_its_payload(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    documents = records(capsys, log)
    # The protobuf JSON mapping of the log record, as 'audit show --json' and MQTT write it.
    assert [d["index"] for d in documents] == [str(i) for i in range(size(log))]
    payloads = {"exercise", "envelope", "deadlineMissed", "stationSession", "refusedRequest",
                "annotation"}  # fmt: skip
    for document in documents:
        assert list(document)[:3] == ["index", "recordedAt", "kind"]
        assert set(document) <= {"index", "recordedAt", "kind", "hotline", "actor",
                                 "correlationId", *payloads}  # fmt: skip
        assert len(set(document) & payloads) <= 1, document
        dt.datetime.fromisoformat(document["recordedAt"].replace("Z", "+00:00"))
    strike = next(d for d in documents if text_of(d) == "Strike at grid 37S DV 1")
    assert strike["kind"] == "RECORD_KIND_ENVELOPE"
    assert strike["hotline"] == "HOTLINE_AIR_OPERATIONS"
    assert strike["actor"] == "BLUE/AIR_OPERATIONS"
    envelope = strike["envelope"]
    assert strike["correlationId"] == envelope["messageId"]
    assert envelope["priority"] == "PRIORITY_IMMEDIATE"
    assert documents[0]["kind"] == "RECORD_KIND_EXERCISE_STARTED"
    assert "exercise" in documents[0]


def test_replay_and_audit_show_write_records_in_one_shape(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    replayed = records(capsys, log)
    with pytest.raises(SystemExit):
        main(["audit", "show", str(log), "--json"])
    shown = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert replayed == shown
    assert replayed[0]["index"] == "0"


def test_the_same_replay_prints_the_same_bytes(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    for options in ((), ("--json",), ("--party", "RED", "--from", "3")):
        first, second = replay(capsys, log, *options), replay(capsys, log, *options)
        assert first == second
        assert first[1]


def test_filter_by_hotline(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    ground = records(capsys, log, "--hotline", "GROUND_COMMANDERS")
    assert {d["hotline"] for d in ground} == {"HOTLINE_GROUND_COMMANDERS"}
    assert "Convoy crossing bridge 4" in [text_of(d) for d in ground]
    assert not any(text_of(d).startswith("Strike") for d in ground)


def test_filter_by_party_and_kind(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    red = records(capsys, log, "--party", "RED", "--kind", "envelope")
    assert {d["kind"] for d in red} == {"RECORD_KIND_ENVELOPE"}
    # Sent by RED, or addressed to RED (answers to RED, alerts about RED's stations).
    for d in red:
        envelope = d["envelope"]
        assert d["actor"].startswith("RED/") or "RED" in envelope.get("audience", []), d
    assert "Convoy crossing bridge 4" in {text_of(d) for d in red}
    answers = {
        (d["actor"], d["envelope"]["acknowledgment"]["kind"])
        for d in red
        if "acknowledgment" in d["envelope"]
    }
    assert answers >= {
        ("RED/AIR_OPERATIONS", "ACK_KIND_WILCO"),
        ("BLUE/GROUND_COMMANDERS", "ACK_KIND_ROGER"),
    }
    # BLUE's strikes went to the whole line, naming no one: they are not RED's records.
    assert not any(text_of(d).startswith("Strike") for d in red)
    notes = records(capsys, log, "--kind", "ANNOTATION")
    assert [d["annotation"]["text"] for d in notes] == ["BLUE answered every strike notice"]


def test_window_by_index(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    window = records(capsys, log, "--from", "2", "--to", "5")
    assert [d["index"] for d in window] == ["2", "3", "4"]


def test_window_by_time(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    everything = records(capsys, log)
    strikes = [d for d in everything if text_of(d).startswith("Strike")]
    start, end = strikes[0]["recordedAt"], strikes[1]["recordedAt"]
    window = records(capsys, log, "--from", start, "--to", end)
    assert window
    assert window[0]["index"] == strikes[0]["index"]
    assert all(at(strikes[0]) <= at(d) < at(strikes[1]) for d in window)
    assert strikes[1]["index"] not in [d["index"] for d in window]


def test_a_tampered_log_is_refused_and_played_only_without_verification(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    strike = next(d for d in records(capsys, log) if text_of(d) == "Strike at grid 37S DV 1")
    drop_triggers(str(log))
    backend = open_backend(str(log), create=False)
    try:
        (stored,) = backend.read(int(strike["index"]), int(strike["index"]) + 1)
    finally:
        backend.close()
    forged = stored.data.replace(b"grid 37S", b"grid 38S")
    assert forged != stored.data
    execute(str(log), "UPDATE log SET data = ? WHERE idx = ?", (forged, int(strike["index"])))

    code, out, err = replay(capsys, log)
    assert code == 1
    assert out == ""
    assert "hash-mismatch" in err
    assert "--no-verify" in err

    code, out, err = replay(capsys, log, "--no-verify", key=False)
    assert code == 0, err
    assert "Strike at grid 38S DV 1" in out
    assert "grid 37S DV 1" not in out


@pytest.mark.parametrize(
    "options",
    [(), ("--json",), ("--party", "RED", "--kind", "ENVELOPE"), ("--hotline", "GROUND_COMMANDERS")],
)
def test_a_long_replay_shared_out_between_processes_prints_the_same_bytes(
    capsys: pytest.CaptureFixture[str],
    log: Path,
    monkeypatch: pytest.MonkeyPatch,
    options: tuple[str, ...],
) -> None:
    alone = replay(capsys, log, *options)
    assert alone[0] == 0, alone[2]
    # Shards of a few records, printed by two more processes.
    monkeypatch.setattr(replay_shards, "MIN_SHARD", 4)
    monkeypatch.setattr(replay_shards, "CORES", 3)
    assert len(replay_shards.shards(0, size(log))) == 3
    assert replay(capsys, log, *options) == alone


def test_shards_count_elapsed_time_from_the_first_record_shown(
    capsys: pytest.CaptureFixture[str], log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The records made a minute apart (unverified: the times are no longer signed).
    drop_triggers(str(log))
    backend = open_backend(str(log), create=False)
    try:
        stored = list(backend.read())
    finally:
        backend.close()
    for row in stored:
        record = log_pb2.LogRecord.FromString(row.data)
        record.recorded_at.seconds += 60 * row.index
        execute(
            str(log),
            "UPDATE log SET data = ? WHERE idx = ?",
            (record.SerializeToString(), row.index),
        )
    options = ("--no-verify", "--from", "3")
    code, alone, err = replay(capsys, log, *options, key=False)
    assert code == 0, err
    elapsed = [line.split()[2] for line in alone.splitlines()]
    assert elapsed[:3] == ["T+00:00:00", "T+00:01:00", "T+00:02:00"]
    monkeypatch.setattr(replay_shards, "MIN_SHARD", 4)
    monkeypatch.setattr(replay_shards, "CORES", 3)
    assert replay(capsys, log, *options, key=False) == (0, alone, "")


def test_a_tampered_log_shared_out_between_processes_prints_nothing(
    capsys: pytest.CaptureFixture[str], log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replay_shards, "MIN_SHARD", 4)
    monkeypatch.setattr(replay_shards, "CORES", 2)
    last = size(log) - 2
    drop_triggers(str(log))
    execute(str(log), "UPDATE log SET data = ? WHERE idx = ?", (b"not a record", last))
    code, out, err = replay(capsys, log)
    assert (code, out) == (1, "")
    assert "--no-verify" in err
    code, out, err = replay(capsys, log, "--no-verify", key=False)
    assert code == 0, err
    assert f"{last:>8} (not a log record: the stored bytes were altered)" in out.splitlines()
    assert len(out.splitlines()) == size(log)


def test_without_the_key_the_log_is_refused(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    code, out, err = replay(capsys, log, key=False)
    assert code == 1
    assert out == ""
    assert "--key" in err


@pytest.mark.parametrize(
    ("option", "value", "complaint"),
    [
        ("--speed", "-2", "positive factor"),
        ("--from", "yesterday", "ISO 8601"),
        ("--hotline", "SEA", "choose one of"),
    ],
)
def test_bad_options_are_explained(
    capsys: pytest.CaptureFixture[str], log: Path, option: str, value: str, complaint: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["replay", str(log), "--no-verify", option, value])
    assert exited.value.code not in (0, None)
    assert complaint in capsys.readouterr().err + str(exited.value.code)
