"""The log store, on SQLite and on PostgreSQL: appends with leaf hashes and signed
checkpoints in one transaction, resumption after a restart or a ``kill -9``, and
tampering found by the offline verifier."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from hotline.server.audit import (
    ProblemKind,
    Signer,
    leaf_hash,
    parse_and_verify_checkpoint,
    root_of,
    verify_proof_bundle,
)
from hotline.server.audit.stored import export_stored_proof, verify_stored_log
from hotline.server.audit.trail import AuditTrail
from hotline.server.errors import ConfigurationError
from hotline.server.record_log import RecordLog
from hotline.server.storage import (
    Backend,
    StoredCheckpoint,
    StoredSnapshot,
    open_backend,
)
from hotline.testing.audit_logs import ORIGIN, VERIFIER, drop_triggers, execute, record, trail

HERE = Path(__file__).parent


async def write(location: str, count: int, audit: AuditTrail | None = None) -> AuditTrail:
    """Appends ``count`` records through the real writer, then closes."""
    audit = audit or trail()
    log = RecordLog(open_backend(location), lambda batch: None, lambda error: None, audit)
    start = sum(1 for _ in log.recover())
    log.start()
    for index in range(start, start + count):
        log.append(record(index))
    await log.flush()
    await log.close()
    return audit


def wait_until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Polls a condition the test cannot be notified of (another connection's view)."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def kill_writer_after(location: str, count: int) -> int:
    """Runs a writer process, ``kill -9`` once it reports ``count`` records committed;
    returns the last count it reported."""
    writer = subprocess.Popen(
        [sys.executable, str(HERE / "writer_process.py"), location],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    committed = 0
    try:
        while committed < count:
            line = writer.stdout.readline()
            assert line, "the writer died"
            committed = int(line)
    finally:
        writer.kill()
        writer.wait()
        writer.stdout.close()
    return committed


def opened(location: str) -> Backend:
    return open_backend(location, create=False)


def test_a_batch_its_leaf_hashes_and_its_checkpoint_are_one_transaction(location: str) -> None:
    backend = open_backend(location)
    records = [record(i) for i in range(3)]
    leaves = [leaf_hash(r.data) for r in records]
    checkpoint = StoredCheckpoint(3, "note\n", (b"\x01" * 32, b"\x02" * 32))
    backend.append(records, leaves, [checkpoint])
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        # Record 2 exists: the whole batch, checkpoint included, is refused.
        backend.append([record(3), record(2)], [leaf_hash(b"x")] * 2, [checkpoint])
    assert list(backend.read()) == records
    assert list(backend.entries(1, 3)) == [(i, records[i].data, leaves[i]) for i in (1, 2)]
    assert backend.leaf_hashes(0, 3) == leaves
    assert backend.checkpoints() == [checkpoint]
    assert backend.latest_checkpoint() == checkpoint
    assert backend.size() == 3
    backend.close()


def test_only_the_latest_snapshot_is_kept_and_only_with_its_batch(location: str) -> None:
    backend = open_backend(location)
    backend.append([record(0), record(1)], [leaf_hash(record(i).data) for i in (0, 1)])
    assert backend.latest_snapshot() is None
    backend.append([record(2)], [leaf_hash(record(2).data)], snapshot=StoredSnapshot(3, b"s3"))
    backend.append([], [], snapshot=StoredSnapshot(3, b"s3 again"))
    backend.append([record(3)], [leaf_hash(record(3).data)], snapshot=StoredSnapshot(4, b"s4"))
    reader = opened(location)
    assert reader.latest_snapshot() == StoredSnapshot(4, b"s4")
    reader.close()
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        # A failed batch takes its snapshot with it.
        backend.append([record(3)], [leaf_hash(b"x")], snapshot=StoredSnapshot(9, b"s9"))
    assert backend.latest_snapshot() == StoredSnapshot(4, b"s4")
    backend.close()


def test_a_snapshot_keeps_the_earlier_one_it_names(location: str) -> None:
    backend = open_backend(location)
    backend.append([record(0)], [leaf_hash(record(0).data)], snapshot=StoredSnapshot(1, b"s1"))
    for n in (1, 2):
        keeps = StoredSnapshot(n + 1, b"s%d" % (n + 1), keeps=1)
        backend.append([record(n)], [leaf_hash(record(n).data)], snapshot=keeps)
    reader = backend.reader()
    assert reader.latest_snapshot() == StoredSnapshot(3, b"s3")
    assert reader.snapshot_at(1) == StoredSnapshot(1, b"s1")
    # s2 named s1 too, and is gone; s4 names none: s1 goes as well.
    assert reader.snapshot_at(2) is None
    backend.append([record(3)], [leaf_hash(record(3).data)], snapshot=StoredSnapshot(4, b"s4"))
    assert reader.snapshot_at(1) is None
    assert reader.latest_snapshot() == StoredSnapshot(4, b"s4")


def test_a_record_is_found_by_its_number_on_its_hotline(location: str) -> None:
    backend = open_backend(location)
    # Every other record is hotline traffic, numbered 1, 2, 3 ...
    rows = [replace(record(n), sequence=n // 2 + 1 if n % 2 else 0) for n in range(8)]
    backend.append(rows, [leaf_hash(r.data) for r in rows])
    reader = backend.reader()
    assert reader.at_sequence(rows[5].hotline, 3) == rows[5]
    assert reader.at_sequence(rows[5].hotline, 5) is None
    assert reader.at_sequence(rows[5].hotline + 1, 3) is None
    assert list(reader.hotline_items(rows[5].hotline, 2)) == [rows[5], rows[7]]


def test_the_message_keys_of_a_range_of_records(location: str) -> None:
    backend = open_backend(location)
    keyed = [replace(record(n), message_key=n - 2**62 if n % 2 else None) for n in range(6)]
    backend.append(keyed, [leaf_hash(r.data) for r in keyed])
    assert sorted(backend.message_keys(1, 5)) == [1 - 2**62, 3 - 2**62]
    assert backend.message_keys(6, 9) == []


def test_records_are_found_by_their_message_key_once_committed(location: str) -> None:
    backend = open_backend(location)
    keyed = [replace(record(n), message_key=n - 2**62 if n % 2 else None) for n in range(4)]
    backend.append(keyed[:2], [leaf_hash(r.data) for r in keyed[:2]])
    reader = opened(location)
    assert reader.with_message_key(1 - 2**62) == [record(1)]
    assert reader.with_message_key(3 - 2**62) == []
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        # A failed batch takes its keys with it.
        backend.append([keyed[3], keyed[1]], [leaf_hash(b"x")] * 2)
    assert reader.with_message_key(3 - 2**62) == []
    backend.append(keyed[2:], [leaf_hash(r.data) for r in keyed[2:]])
    assert reader.with_message_key(3 - 2**62) == [record(3)]
    # Two records under one key (two ids whose hashes agree) are both found.
    twin = replace(record(4), message_key=3 - 2**62)
    backend.append([twin], [leaf_hash(twin.data)])
    assert reader.with_message_key(3 - 2**62) == [record(3), record(4)]
    reader.close()
    backend.close()


@pytest.mark.parametrize("size", [1, 5, 1000])
def test_a_batch_without_checkpoints_is_all_or_nothing_too(location: str, size: int) -> None:
    backend = open_backend(location)
    backend.append([record(0)], [leaf_hash(record(0).data)])
    records = [record(i) for i in range(1, size + 1)]
    clashing = [*records[: size // 2], record(0), *records[size // 2 :]]
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        backend.append(clashing, [leaf_hash(r.data) for r in clashing])
    assert backend.size() == 1
    backend.append(records, [leaf_hash(r.data) for r in records])
    assert list(backend.read()) == [record(0), *records]
    assert backend.leaf_hashes(0, size + 1) == [leaf_hash(r.data) for r in [record(0), *records]]
    backend.close()


def test_the_store_refuses_to_change_or_remove_anything(location: str) -> None:
    backend = open_backend(location)
    backend.append([record(0)], [leaf_hash(record(0).data)], [StoredCheckpoint(1, "n\n", ())])
    backend.close()
    for statement in (
        "UPDATE log SET data = ? WHERE idx = 0",
        "DELETE FROM log",
        "UPDATE checkpoints SET note = ?",
        "DELETE FROM checkpoints",
    ):
        params: tuple[object, ...] = (b"forged",) if "?" in statement else ()
        with pytest.raises(Exception, match="append-only"):
            execute(location, statement, params)


async def test_the_writer_signs_every_n_records_and_at_close(location: str) -> None:
    await write(location, 25)
    backend = opened(location)
    checkpoints = [parse_and_verify_checkpoint(c.note, VERIFIER) for c in backend.checkpoints()]
    # Every 10 records, and the last 5 at close.
    assert [c.size for c in checkpoints] == [10, 20, 25]
    assert {c.origin for c in checkpoints} == {ORIGIN}
    leaves = [leaf_hash(r.data) for r in backend.read()]
    assert checkpoints[-1].root == root_of(leaves)
    report = verify_stored_log(backend, VERIFIER)
    assert report.ok, report.summary()
    assert report.verified_size == 25
    backend.close()


async def test_a_checkpoint_is_signed_after_the_interval_without_more_records(
    location: str,
) -> None:
    backend = open_backend(location)
    log = RecordLog(backend, lambda batch: None, lambda error: None, trail(1000, 0.2))
    log.start()
    for index in range(3):
        log.append(record(index))
    await log.flush()
    reader = opened(location)
    await asyncio.to_thread(wait_until, lambda: reader.latest_checkpoint() is not None)
    latest = reader.latest_checkpoint()
    assert latest is not None
    assert latest.size == 3
    reader.close()
    await log.close()


async def test_a_reopened_log_resumes_its_tree_and_keeps_verifying(location: str) -> None:
    await write(location, 23)
    resumed = trail()
    await write(location, 14, resumed)
    assert resumed.tree.size == 37
    backend = opened(location)
    assert [c.size for c in backend.checkpoints()] == [10, 20, 23, 33, 37]
    report = verify_stored_log(backend, VERIFIER)
    assert report.ok, report.summary()
    assert report.verified_size == 37
    bundle = export_stored_proof(backend, 21)
    proven = verify_proof_bundle(bundle, VERIFIER)
    assert (proven.index, proven.data, proven.checkpoint.size) == (21, record(21).data, 37)
    backend.close()


async def test_another_key_may_not_sign_on_top_of_a_log(location: str) -> None:
    await write(location, 5)
    other = AuditTrail(Signer(ORIGIN, bytes(32)), ORIGIN)
    log = RecordLog(open_backend(location), lambda batch: None, lambda error: None, other)
    with pytest.raises(ConfigurationError, match="does not verify with this server's key"):
        log.start()
    await log.close()


async def test_after_kill_9_every_committed_record_is_there_and_gets_signed(
    location: str,
) -> None:
    await write(location, 30)
    committed = await asyncio.to_thread(kill_writer_after, location, 330)

    backend = opened(location)
    stored = backend.size()
    assert stored >= committed
    assert [r.index for r in backend.read()] == list(range(stored))
    # Nothing signed those after record 29: the strict verifier refuses, the lenient one warns.
    strict = verify_stored_log(backend, VERIFIER)
    assert [p.kind for p in strict.errors] == [ProblemKind.UNSIGNED_TAIL]
    assert verify_stored_log(backend, VERIFIER, allow_unsigned_tail=True).ok
    backend.close()

    resumed = await write(location, 2)
    assert resumed.signed_size == stored + 2
    backend = opened(location)
    report = verify_stored_log(backend, VERIFIER)
    assert report.ok, report.summary()
    assert report.verified_size == stored + 2
    backend.close()


@pytest.mark.parametrize(
    ("tamper", "kind", "index"),
    [
        (("UPDATE log SET data = ? WHERE idx = 13", (record(13).data[:-1] + b"?",)),
         ProblemKind.HASH_MISMATCH, 13),
        (("DELETE FROM log WHERE idx = 7", ()), ProblemKind.MISSING_RECORD, 7),
        (("DELETE FROM log WHERE idx >= 20", ()), ProblemKind.TRUNCATED, 20),
    ],
)  # fmt: skip
async def test_tampering_with_the_store_is_found_and_named(
    location: str, tamper: tuple[str, tuple[object, ...]], kind: ProblemKind, index: int
) -> None:
    await write(location, 25)
    drop_triggers(location)
    execute(location, *tamper)
    backend = opened(location)
    report = verify_stored_log(backend, VERIFIER)
    backend.close()
    assert not report.ok
    first = report.first_error
    assert first is not None
    assert (first.kind, first.index) == (kind, index)


def test_an_empty_store_and_a_missing_one(location: str, tmp_path: Path) -> None:
    backend = open_backend(location)
    report = verify_stored_log(backend, VERIFIER)
    assert [p.kind for p in report.errors] == [ProblemKind.NO_CHECKPOINT]
    backend.close()
    with pytest.raises(ConfigurationError, match="no log"):
        open_backend(str(tmp_path / "missing.sqlite"), create=False)


def test_a_log_of_an_earlier_version_is_read_offline_but_not_served(location: str) -> None:
    backend = open_backend(location)
    backend.append([record(0), record(1)], [leaf_hash(record(n).data) for n in (0, 1)])
    backend.close()
    # As a server before message keys left it.
    execute(location, "DROP INDEX log_message_key")
    execute(location, "ALTER TABLE log DROP COLUMN message_key")
    reader = opened(location)
    assert list(reader.read()) == [record(0), record(1)]
    reader.close()
    with pytest.raises(ConfigurationError, match="earlier hotline version"):
        open_backend(location)
