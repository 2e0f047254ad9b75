"""A log written by the real server, tampered with in every way a person could, then
verified offline: each tampering is found and named, the first bad record first.

The log is a real SQLite file from ``hotline.server.app.serve`` (checkpoints every 4
records so that there are several). To tamper, the triggers are dropped with sqlite3
first, as an attacker would.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from hotline.cli import main
from hotline.server.audit import (
    ProblemKind,
    VerificationReport,
    generate_key,
    leaf_hash,
    parse_checkpoint,
    parse_note,
    parse_signer_key,
    parse_verifier_key,
    root_of,
    sign_checkpoint,
)
from hotline.server.audit.stored import verify_stored_log
from hotline.server.exercise import default_exercise
from hotline.server.storage import open_backend
from hotline.testing.audit_logs import drop_triggers
from hotline.testing.harness import AIR, RELAXED, expect, running_server
from hotline.testing.recorded import Recordings
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2, log_pb2, messages_pb2


def is_message(message_id: str) -> Callable[[envelope_pb2.Envelope], bool]:
    return lambda envelope: envelope.message_id == message_id


async def _exercise_traffic(data_dir: Path) -> None:
    async with (
        running_server(data_dir, default_exercise(RELAXED), checkpoint_every_records=4) as server,
        server.station("BLUE", AIR) as blue,
        server.station("RED", AIR) as red,
    ):
        for n in range(3):
            sent = await blue.send(
                messages_pb2.TextMessage(text=f"Strike at grid 37S DV {n}"),
                common_pb2.PRIORITY_IMMEDIATE,
            )
            delivery = await expect(red, is_message(sent.message_id))
            await red.acknowledge(delivery, acknowledgments_pb2.ACK_KIND_WILCO)


@pytest.fixture
def original(recordings: Recordings) -> Path:
    """The data directory of the server that wrote the log."""
    return recordings.of(_exercise_traffic).data_dir


@pytest.fixture
def copy(recordings: Recordings, tmp_path: Path) -> Path:
    """A copy of the log, its triggers dropped, and the server's public key beside it."""
    log = recordings.of(_exercise_traffic).copy_log(tmp_path)
    drop_triggers(str(log))
    return log


def sql(path: Path, statement: str, *params: object) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(statement, params)
    db.close()


def rows(path: Path, statement: str, *params: object) -> list[tuple[object, ...]]:
    db = sqlite3.connect(path)
    found = db.execute(statement, params).fetchall()
    db.close()
    return found


def verify(path: Path, **options: object) -> VerificationReport:
    key = parse_verifier_key((path.parent / "signing.pub").read_text().strip())
    backend = open_backend(str(path), create=False)
    try:
        return verify_stored_log(backend, key, **options)  # type: ignore[arg-type]
    finally:
        backend.close()


def first(report: VerificationReport) -> tuple[ProblemKind, int | None]:
    problem = report.first_error
    assert problem is not None, report.summary()
    return problem.kind, problem.index


def size(path: Path) -> int:
    (count,) = rows(path, "SELECT count(*) FROM log")[0]
    assert isinstance(count, int)
    return count


def record_of(path: Path, index: int) -> log_pb2.LogRecord:
    (data,) = rows(path, "SELECT data FROM log WHERE idx = ?", index)[0]
    return log_pb2.LogRecord.FromString(data)  # type: ignore[arg-type]


def test_the_untouched_log_verifies_and_every_record_is_signed(copy: Path) -> None:
    report = verify(copy)
    assert report.ok, report.summary()
    assert report.verified_size == size(copy) > 12
    assert report.checkpoints_checked > 3
    assert report.origin == "hotline/" + default_exercise().exercise_id


def test_a_flipped_byte_in_a_payload_names_the_record(copy: Path) -> None:
    target = 6
    (data,) = rows(copy, "SELECT data FROM log WHERE idx = ?", target)[0]
    assert isinstance(data, bytes)
    sql(copy, "UPDATE log SET data = ? WHERE idx = ?", data[:-1] + bytes([data[-1] ^ 1]), target)
    assert first(verify(copy)) == (ProblemKind.HASH_MISMATCH, target)


def test_a_changed_timestamp_with_its_hash_recomputed_breaks_the_signed_root(
    copy: Path,
) -> None:
    target = 6
    record = record_of(copy, target)
    record.recorded_at.seconds -= 3600
    data = record.SerializeToString()
    sql(copy, "UPDATE log SET data = ?, leaf_hash = ? WHERE idx = ?", data, leaf_hash(data), target)
    [problem] = [p for p in verify(copy).errors if p.kind is ProblemKind.ROOT_MISMATCH]
    # Between the last checkpoint that still matches and the first that does not.
    assert problem.index is not None
    assert problem.end is not None
    assert problem.index <= target < problem.end <= target + 4


def utc(record: log_pb2.LogRecord) -> str:
    """A record's time as the verifier prints it."""
    at = dt.datetime.fromtimestamp(record.recorded_at.ToNanoseconds() / 1e9, dt.UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def move_in_time(path: Path, index: int, seconds: int) -> log_pb2.LogRecord:
    """Moves a record's time and stores its leaf hash anew, as someone covering their
    tracks would; returns the record as it now reads."""
    record = record_of(path, index)
    record.recorded_at.seconds += seconds
    if record.HasField("envelope"):
        record.envelope.recorded_at.CopyFrom(record.recorded_at)
    data = record.SerializeToString()
    sql(path, "UPDATE log SET data = ?, leaf_hash = ? WHERE idx = ?", data, leaf_hash(data), index)
    return record


@pytest.mark.parametrize("shift", [-3600, 3600])
def test_a_time_moved_by_an_hour_names_the_record_and_both_times(copy: Path, shift: int) -> None:
    target = 7
    moved = move_in_time(copy, target, shift)
    neighbour = record_of(copy, target - 1 if shift < 0 else target + 1)
    report = verify(copy)
    problem = report.first_error
    assert problem is not None
    assert (problem.kind, problem.index) == (ProblemKind.TIME_ORDER, target)
    assert f"record {target} " in problem.message
    assert utc(moved) in problem.message
    assert utc(neighbour) in problem.message
    # The signed roots no longer match either; that finding points at the same record.
    [mismatch] = [p for p in report.errors if p.kind is ProblemKind.ROOT_MISMATCH]
    assert f"record {target}" in mismatch.message


def test_a_time_moved_under_re_signed_checkpoints_is_still_named(
    copy: Path, original: Path
) -> None:
    """Someone who holds the signing key re-signs every checkpoint over the altered
    record: the tree agrees with itself, but the log's time order does not."""
    target = 9
    moved = move_in_time(copy, target, -3600)
    signer = parse_signer_key((original / "signing.key").read_text().strip())
    leaves = [h for (h,) in rows(copy, "SELECT leaf_hash FROM log ORDER BY idx")]
    assert all(isinstance(h, bytes) for h in leaves)
    hashes: list[bytes] = leaves  # type: ignore[assignment]
    for seq, note in rows(copy, "SELECT seq, note FROM checkpoints"):
        assert isinstance(note, str)
        signed = parse_checkpoint(parse_note(note).text)
        again = sign_checkpoint(signed.origin, signed.size, root_of(hashes[: signed.size]), signer)
        sql(copy, "UPDATE checkpoints SET note = ? WHERE seq = ?", again, seq)
    report = verify(copy)
    assert [(p.kind, p.index) for p in report.errors] == [(ProblemKind.TIME_ORDER, target)]
    assert utc(moved) in report.errors[0].message
    assert utc(record_of(copy, target - 1)) in report.errors[0].message


def test_a_deleted_record_is_missing(copy: Path) -> None:
    sql(copy, "DELETE FROM log WHERE idx = 5")
    assert first(verify(copy)) == (ProblemKind.MISSING_RECORD, 5)


def test_two_swapped_records_are_out_of_place(copy: Path) -> None:
    a, b = rows(copy, "SELECT data, leaf_hash FROM log WHERE idx IN (7, 8) ORDER BY idx")
    sql(copy, "UPDATE log SET data = ?, leaf_hash = ? WHERE idx = 7", *b)
    sql(copy, "UPDATE log SET data = ?, leaf_hash = ? WHERE idx = 8", *a)
    report = verify(copy)
    assert first(report) == (ProblemKind.OUT_OF_ORDER, 7)
    moved = {p.index for p in report.errors if p.kind is ProblemKind.INDEX_MISMATCH}
    assert moved == {7, 8}


def test_a_truncated_tail_is_found(copy: Path) -> None:
    end = size(copy)
    sql(copy, "DELETE FROM log WHERE idx >= ?", end - 3)
    assert first(verify(copy)) == (ProblemKind.TRUNCATED, end - 3)


def test_a_tail_cut_with_its_checkpoints_is_found_with_a_checkpoint_kept_apart(
    copy: Path,
) -> None:
    (kept,) = rows(copy, "SELECT note FROM checkpoints ORDER BY seq DESC LIMIT 1")[0]
    # Cut back to an earlier checkpoint, removing the later ones too.
    (cut,) = rows(copy, "SELECT size FROM checkpoints ORDER BY seq DESC LIMIT 1 OFFSET 1")[0]
    sql(copy, "DELETE FROM log WHERE idx >= ?", cut)
    sql(copy, "DELETE FROM checkpoints WHERE size > ?", cut)
    assert verify(copy).ok  # what is left is consistent in itself...
    report = verify(copy, checkpoints=[kept])  # ...but not with what the auditor kept
    assert first(report) == (ProblemKind.TRUNCATED, cut)


def test_an_appended_forged_record_is_unsigned(copy: Path) -> None:
    end = size(copy)
    forged = record_of(copy, end - 1)
    forged.index = end
    forged.annotation.text = "RED agreed to everything"
    data = forged.SerializeToString()
    sql(
        copy,
        "INSERT INTO log (idx, kind, hotline, sequence, data, leaf_hash) VALUES (?, ?, 0, 0, ?, ?)",
        end, forged.kind, data, leaf_hash(data),
    )  # fmt: skip
    assert first(verify(copy)) == (ProblemKind.UNSIGNED_TAIL, end)


def test_a_checkpoint_signed_by_another_key_is_not_trusted(copy: Path) -> None:
    (note,) = rows(copy, "SELECT note FROM checkpoints ORDER BY seq DESC LIMIT 1")[0]
    assert isinstance(note, str)
    signed = parse_checkpoint(parse_note(note).text)
    attacker, _ = generate_key(signed.origin)
    forged = sign_checkpoint(signed.origin, signed.size, bytes(32), attacker)
    sql(copy, "UPDATE checkpoints SET note = ? WHERE note = ?", forged, note)
    kinds = {p.kind for p in verify(copy).errors}
    assert ProblemKind.UNKNOWN_KEY in kinds


def test_a_checkpoint_altered_after_signing_has_a_bad_signature(copy: Path) -> None:
    (note,) = rows(copy, "SELECT note FROM checkpoints ORDER BY seq LIMIT 1")[0]
    assert isinstance(note, str)
    text, _, signatures = note.partition("\n\n")
    lines = text.split("\n")
    lines[1] = str(int(lines[1]) - 1)
    sql(
        copy,
        "UPDATE checkpoints SET note = ? WHERE note = ?",
        "\n".join(lines) + "\n\n" + signatures,
        note,
    )
    assert ProblemKind.BAD_SIGNATURE in {p.kind for p in verify(copy).errors}


def test_the_wrong_key_trusts_nothing(copy: Path) -> None:
    _, wrong = generate_key("hotline/" + default_exercise().exercise_id)
    (copy.parent / "signing.pub").write_text(wrong.encode())
    report = verify(copy)
    assert ProblemKind.UNKNOWN_KEY in {p.kind for p in report.errors}
    assert report.verified_size == 0


def test_with_the_wrong_key_the_key_is_named_first(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, wrong = generate_key("hotline/" + default_exercise().exercise_id)
    (copy.parent / "wrong.pub").write_text(wrong.encode())
    with pytest.raises(SystemExit) as failed:
        main(["audit", "verify", str(copy), "--key", str(copy.parent / "wrong.pub")])
    assert failed.value.code == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("error: unknown-key: checkpoint 0: ")
    kinds = [line.split(":")[1].strip() for line in lines[:-1]]
    # Every checkpoint's key first; the records nothing proves, a consequence, after.
    assert kinds == ["unknown-key"] * (len(kinds) - 1) + ["unsigned-tail"]
    assert lines[-1].endswith("no record matches a signed checkpoint")


def checkpoints_up_to(path: Path, cut: int) -> int:
    """Drops the checkpoints after the first one of at least ``cut`` records, as in a
    copy taken while the server ran; returns the size the last one left signs."""
    (size,) = rows(path, "SELECT min(size) FROM checkpoints WHERE size >= ?", cut)[0]
    assert isinstance(size, int)
    sql(path, "DELETE FROM checkpoints WHERE size > ?", size)
    return size


def test_an_unsigned_tail_allowed_is_told_apart_from_the_signed_records(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    end = size(copy)
    signed = checkpoints_up_to(copy, end // 2)
    (kept,) = rows(copy, "SELECT count(*) FROM checkpoints")[0]
    assert isinstance(kept, int)
    assert 0 < signed < end
    key = str(copy.parent / "signing.pub")
    with pytest.raises(SystemExit) as allowed:
        main(["audit", "verify", str(copy), "--key", key, "--allow-unsigned-tail"])
    assert allowed.value.code == 0
    verdict = capsys.readouterr().out.splitlines()[-1]
    assert verdict == (
        f"OK: {end} records and {kept} checkpoint(s) checked; records 0..{signed - 1} "
        f"verified against checkpoint {kept - 1} (size {signed}); records {signed}..{end - 1} "
        f"({end - signed}) are covered by no signed checkpoint"
    )
    with pytest.raises(SystemExit):
        main(["audit", "verify", str(copy), "--key", key, "--allow-unsigned-tail", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert document["verified_size"] == signed
    assert document["verified_checkpoint"] == kept - 1
    assert document["unsigned"] == {"index": signed, "end": end}

    with pytest.raises(SystemExit) as refused:
        main(["audit", "verify", str(copy), "--key", key])
    assert refused.value.code == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"error: unsigned-tail: records {signed}..{end - 1} ")
    assert out[-1].startswith("FAILED: ")


def test_the_command_line_exits_non_zero_naming_the_problem(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = str(copy.parent / "signing.pub")
    with pytest.raises(SystemExit) as ok:
        main(["audit", "verify", str(copy), "--key", key])
    assert ok.value.code == 0
    assert capsys.readouterr().out.startswith("OK: ")
    sql(copy, "DELETE FROM log WHERE idx = 3")
    with pytest.raises(SystemExit) as failed:
        main(["audit", "verify", str(copy), "--key", key, "--json"])
    assert failed.value.code == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"]
    assert report["problems"][0]["kind"] == "missing-record"
    assert report["problems"][0]["index"] == 3


def test_one_record_exported_is_verified_without_the_log(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = str(copy.parent / "signing.pub")
    bundle = copy.parent / "record-4.json"
    with pytest.raises(SystemExit) as exported:
        main(["audit", "export", str(copy), "--index", "4", "--output", str(bundle)])
    assert exported.value.code == 0
    copy.unlink()
    with pytest.raises(SystemExit) as proven:
        main(["audit", "verify-proof", str(bundle), "--key", key])
    assert proven.value.code == 0
    assert capsys.readouterr().out.startswith("OK: record 4 is in the log")

    document = json.loads(bundle.read_text())
    document["index"] = 5
    bundle.write_text(json.dumps(document))
    with pytest.raises(SystemExit) as refused:
        main(["audit", "verify-proof", str(bundle), "--key", key])
    assert refused.value.code == 1
    assert "InvalidProof" in capsys.readouterr().out


def test_show_lists_and_filters_records(copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["audit", "show", str(copy)])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == size(copy)
    assert "EXERCISE_STARTED" in lines[0]
    with pytest.raises(SystemExit):
        main(["audit", "show", str(copy), "--party", "RED", "--kind", "envelope", "--json"])
    shown = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert shown, "RED's traffic is listed"
    assert {r["kind"] for r in shown} == {"RECORD_KIND_ENVELOPE"}
    wilcos = [
        r for r in shown if r["envelope"].get("acknowledgment", {}).get("kind") == "ACK_KIND_WILCO"
    ]
    assert len(wilcos) == 3
