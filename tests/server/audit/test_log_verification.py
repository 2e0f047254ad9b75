"""Offline verification of a whole log: every way a person could tamper with a copy is
found and named, and the first bad record is the first problem reported."""

from __future__ import annotations

import json
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.server.audit import (
    LogEntry,
    ProblemKind,
    Severity,
    Signer,
    VerificationReport,
    generate_key,
    leaf_hash,
    root_of,
    sign_checkpoint,
    verify_log,
)

ORIGIN = "hotline.example/exercise-7"
SIGNER = Signer(ORIGIN, bytes(range(32)))
VERIFIER = SIGNER.verifier
SIZES = (10, 25, 40)


def record(index: int) -> bytes:
    """A record as the server might store it; the timestamp is inside the hashed bytes."""
    return json.dumps(
        {
            "index": index,
            "time": f"2025-11-21T09:{index // 60:02d}:{index % 60:02d}.000Z",
            "kind": "message.accepted",
            "hotline": "NORTH-SOUTH",
            "payload": f"request deconfliction of grid 32U {index:04d}",
        }
    ).encode()


def make_log(size: int) -> list[tuple[int, bytes]]:
    return [(i, record(i)) for i in range(size)]


def checkpoint(entries: list[tuple[int, bytes]], size: int, signer: Signer = SIGNER) -> str:
    root = root_of([leaf_hash(data) for _, data in entries[:size]])
    return sign_checkpoint(signer.name, size, root, signer)


LOG = make_log(40)
CHECKPOINTS = [checkpoint(LOG, size) for size in SIZES]


def kinds(report: VerificationReport) -> list[ProblemKind]:
    return [p.kind for p in report.problems]


def first(report: VerificationReport) -> tuple[ProblemKind, int | None]:
    problem = report.first_error
    assert problem is not None
    return problem.kind, problem.index


def test_untouched_log_verifies() -> None:
    report = verify_log(LOG, CHECKPOINTS, VERIFIER)
    assert report.ok
    assert report.problems == ()
    assert report.records_checked == 40
    assert report.checkpoints_checked == 3
    assert report.verified_size == 40
    assert report.verified_checkpoint == 2
    assert report.unsigned is None
    assert report.origin == ORIGIN
    assert report.summary() == (
        "OK: 40 records and 3 checkpoint(s) checked; records 0..39 verified against "
        "checkpoint 2 (size 40)"
    )


def test_records_may_stream_from_a_generator() -> None:
    def rows() -> Iterator[LogEntry]:
        yield from LOG

    assert verify_log(rows(), iter(CHECKPOINTS), [VERIFIER]).ok


class TestTamperedRecords:
    def test_flipped_payload_byte(self) -> None:
        log = list(LOG)
        data = bytearray(log[17][1])
        data[data.index(b"grid")] ^= 0x20
        log[17] = (17, bytes(data))
        report = verify_log(log, CHECKPOINTS, VERIFIER)
        assert not report.ok
        assert first(report) == (ProblemKind.ROOT_MISMATCH, 10)
        problem = report.problems[0]
        assert (problem.end, problem.checkpoint) == (25, 1)
        assert "a record among records 10..24 was altered" in problem.message
        assert report.verified_size == 10
        assert len(report.errors) == 1  # checkpoint 2 holds the same record: counted, not listed

    def test_changed_timestamp(self) -> None:
        log = list(LOG)
        log[3] = (3, log[3][1].replace(b"09:00:03", b"09:00:02"))
        report = verify_log(log, CHECKPOINTS, VERIFIER)
        assert first(report) == (ProblemKind.ROOT_MISMATCH, 0)
        assert report.verified_size == 0
        [problem] = report.errors
        assert problem.checkpoint == 0
        assert "2 later checkpoint(s) include these records" in problem.message

    def test_altered_record_is_pinpointed_when_the_store_kept_leaf_hashes(self) -> None:
        log: list[LogEntry] = [(i, data, leaf_hash(data)) for i, data in LOG]
        data = LOG[17][1]
        log[17] = (17, data.replace(b"grid", b"GRID"), leaf_hash(data))
        report = verify_log(log, CHECKPOINTS, VERIFIER)
        assert first(report) == (ProblemKind.HASH_MISMATCH, 17)
        assert ProblemKind.ROOT_MISMATCH in kinds(report)

    def test_stored_leaf_hashes_of_an_untouched_log(self) -> None:
        log: list[LogEntry] = [(i, data, leaf_hash(data)) for i, data in LOG]
        log[5] = (5, LOG[5][1], None)  # a store may lack the hash of some records
        assert verify_log(log, CHECKPOINTS, VERIFIER).ok

    def test_deleted_record(self) -> None:
        log = LOG[:12] + LOG[13:]
        report = verify_log(log, CHECKPOINTS, VERIFIER)
        assert first(report) == (ProblemKind.MISSING_RECORD, 12)
        assert "record 12 is missing" in report.problems[0].message
        assert {ProblemKind.ROOT_MISMATCH, ProblemKind.TRUNCATED} <= set(kinds(report))
        assert report.verified_size == 10

    def test_deleted_run_of_records(self) -> None:
        report = verify_log(LOG[:4] + LOG[7:], CHECKPOINTS, VERIFIER)
        problem = report.problems[0]
        assert (problem.kind, problem.index, problem.end) == (ProblemKind.MISSING_RECORD, 4, 7)
        assert "records 4..6 (3 records) are missing" in problem.message

    def test_deleted_first_record(self) -> None:
        report = verify_log(LOG[1:], CHECKPOINTS, VERIFIER)
        assert first(report) == (ProblemKind.MISSING_RECORD, 0)

    def test_two_records_swapped_in_storage(self) -> None:
        log = list(LOG)
        log[20], log[21] = log[21], log[20]
        report = verify_log(log, CHECKPOINTS, VERIFIER)
        assert first(report) == (ProblemKind.OUT_OF_ORDER, 20)
        assert ProblemKind.MISSING_RECORD not in kinds(report)
        assert "after record 21" in report.problems[0].message

    def test_two_records_swapped_keeping_their_indices(self) -> None:
        log = list(LOG)
        log[20], log[21] = (20, LOG[21][1]), (21, LOG[20][1])
        report = verify_log(log, CHECKPOINTS, VERIFIER)
        assert first(report) == (ProblemKind.ROOT_MISMATCH, 10)

    def test_duplicated_record(self) -> None:
        log = [*LOG[:9], LOG[8], *LOG[9:]]
        report = verify_log(log, CHECKPOINTS, VERIFIER)
        assert first(report) == (ProblemKind.DUPLICATE_RECORD, 8)

    def test_truncated_tail(self) -> None:
        report = verify_log(LOG[:35], CHECKPOINTS, VERIFIER)
        assert first(report) == (ProblemKind.TRUNCATED, 35)
        assert kinds(report) == [ProblemKind.TRUNCATED]
        assert "records 35..39 (5 records) are missing" in report.problems[0].message
        assert report.verified_size == 25

    def test_forged_record_appended_after_the_last_checkpoint(self) -> None:
        log = [*LOG, (40, record(40).replace(b"grid", b"forged grid"))]
        report = verify_log(log, CHECKPOINTS, VERIFIER)
        assert report.ok
        [warning] = report.warnings
        assert (warning.kind, warning.index, warning.end) == (ProblemKind.UNSIGNED_TAIL, 40, 41)
        assert warning.severity is Severity.WARNING

    def test_an_unsigned_tail_is_told_apart_from_the_records_proven(self) -> None:
        log = [*LOG, *((i, record(i)) for i in range(40, 51))]
        report = verify_log(log, CHECKPOINTS, VERIFIER)
        assert report.ok
        assert (report.verified_size, report.verified_checkpoint) == (40, 2)
        assert report.unsigned == (40, 51)
        assert report.proven() == (
            "records 0..39 verified against checkpoint 2 (size 40); records 40..50 (11) are "
            "covered by no signed checkpoint"
        )
        assert report.summary().endswith(f"checked; {report.proven()}")

    def test_forged_record_covered_by_a_checkpoint(self) -> None:
        genuine = make_log(41)
        signed = [*CHECKPOINTS, checkpoint(genuine, 41)]
        forged = [*LOG, (40, record(40).replace(b"grid", b"forged grid"))]
        report = verify_log(forged, signed, VERIFIER)
        problem = report.problems[0]
        assert (problem.kind, problem.index, problem.end) == (ProblemKind.ROOT_MISMATCH, 40, 41)
        assert "record 40 was altered" in problem.message


class TestTamperedCheckpoints:
    def test_altered_root_line(self) -> None:
        forged = CHECKPOINTS[1].replace(
            CHECKPOINTS[1].split("\n")[2], CHECKPOINTS[0].split("\n")[2]
        )
        report = verify_log(LOG, [CHECKPOINTS[0], forged, CHECKPOINTS[2]], VERIFIER)
        assert kinds(report) == [ProblemKind.BAD_SIGNATURE]
        assert report.problems[0].checkpoint == 1

    def test_altered_size_line(self) -> None:
        forged = CHECKPOINTS[2].replace("\n40\n", "\n39\n")
        report = verify_log(LOG, [forged], VERIFIER)
        assert ProblemKind.BAD_SIGNATURE in kinds(report)
        assert report.verified_size == 0

    def test_replaced_by_a_checkpoint_from_another_key(self) -> None:
        impostor, _ = generate_key(ORIGIN)
        report = verify_log(LOG, [*CHECKPOINTS[:2], checkpoint(LOG, 40, impostor)], VERIFIER)
        assert first(report) == (ProblemKind.UNKNOWN_KEY, None)
        assert report.problems[0].checkpoint == 2
        assert ProblemKind.UNSIGNED_TAIL in kinds(report)

    def test_checkpoint_of_another_exercise_under_the_same_key(self) -> None:
        other = sign_checkpoint("hotline.example/exercise-8", 40, bytes(32), SIGNER)
        report = verify_log(LOG, [*CHECKPOINTS, other], VERIFIER)
        assert kinds(report) == [ProblemKind.WRONG_ORIGIN]
        assert verify_log(LOG, CHECKPOINTS, VERIFIER, origin="hotline.example/x").verified_size == 0

    def test_signed_history_that_contradicts_a_later_checkpoint(self) -> None:
        other = make_log(25)
        other[24] = (24, b"a record that never was")
        report = verify_log(LOG, [CHECKPOINTS[0], checkpoint(other, 25), CHECKPOINTS[2]], VERIFIER)
        assert kinds(report) == [ProblemKind.INCONSISTENT_CHECKPOINTS]
        assert report.problems[0].checkpoint == 1
        assert report.verified_size == 40

    def test_two_roots_for_one_size(self) -> None:
        other = make_log(40)
        other[0] = (0, b"")
        report = verify_log(LOG, [*CHECKPOINTS, checkpoint(other, 40)], VERIFIER)
        assert ProblemKind.INCONSISTENT_CHECKPOINTS in kinds(report)
        assert not report.ok

    def test_sizes_going_backwards(self) -> None:
        report = verify_log(LOG, [CHECKPOINTS[0], CHECKPOINTS[2], CHECKPOINTS[1]], VERIFIER)
        assert kinds(report) == [ProblemKind.CHECKPOINT_ORDER]
        assert "a log never shrinks" in report.problems[0].message

    def test_same_checkpoint_twice_is_fine(self) -> None:
        assert verify_log(LOG, [*CHECKPOINTS, CHECKPOINTS[2]], VERIFIER).ok

    def test_malformed_checkpoint(self) -> None:
        report = verify_log(LOG, [*CHECKPOINTS, "not a checkpoint"], VERIFIER)
        assert kinds(report) == [ProblemKind.MALFORMED_CHECKPOINT]
        assert report.problems[0].message.startswith("checkpoint 3: ")

    def test_wrong_verifier_key(self) -> None:
        _, stranger = generate_key(ORIGIN)
        report = verify_log(LOG, CHECKPOINTS, stranger)
        assert kinds(report) == [ProblemKind.UNKNOWN_KEY] * 3 + [ProblemKind.UNSIGNED_TAIL]
        assert report.verified_size == 0
        assert "no record matches a signed checkpoint" in report.summary()

    def test_no_checkpoint(self) -> None:
        report = verify_log(LOG, [], VERIFIER)
        assert first(report) == (ProblemKind.NO_CHECKPOINT, None)


def test_problems_come_by_how_fundamental_they_are() -> None:
    """The key and the checkpoints first, then the signer's history, then one record,
    then a range of records, then the records nothing proves."""
    impostor, _ = generate_key(ORIGIN)
    log = [*LOG[:12], *LOG[13:], (40, record(40)), (41, record(41))]
    other_log = sign_checkpoint("hotline.example/exercise-8", 40, bytes(32), SIGNER)
    signed = [CHECKPOINTS[1], CHECKPOINTS[0], checkpoint(LOG, 25, impostor), other_log]
    report = verify_log(log, [*signed, CHECKPOINTS[2]], VERIFIER)
    assert kinds(report) == [
        ProblemKind.UNKNOWN_KEY,
        ProblemKind.WRONG_ORIGIN,
        ProblemKind.CHECKPOINT_ORDER,
        ProblemKind.MISSING_RECORD,
        ProblemKind.ROOT_MISMATCH,
        ProblemKind.UNSIGNED_TAIL,
    ]


def test_empty_log_with_its_checkpoint() -> None:
    assert verify_log([], [checkpoint([], 0)], VERIFIER).ok


def test_problems_with_records_are_capped() -> None:
    log = [entry for entry in LOG for _ in range(2)]
    report = verify_log(log, CHECKPOINTS, VERIFIER, max_problems=5)
    assert kinds(report).count(ProblemKind.DUPLICATE_RECORD) == 5
    assert report.problems_omitted == 35
    assert "and 35 more problems" in report.summary()


def test_large_log_with_checkpoints_on_and_off_batch_boundaries() -> None:
    log = [(i, b"record %d" % i) for i in range(20_000)]
    sizes = [1, 1023, 1024, 1025, 16_384, 16_385, 19_999, 20_000]
    report = verify_log(log, [checkpoint(log, size) for size in sizes], VERIFIER)
    assert report.ok, report.summary()
    tampered = list(log)
    tampered[16_384] = (16_384, b"record 16384!")
    report = verify_log(tampered, [checkpoint(log, size) for size in sizes], VERIFIER)
    problem = report.problems[0]
    assert (problem.index, problem.end) == (16_384, 16_385)


@settings(max_examples=60, deadline=None)
@given(st.data(), st.integers(min_value=1, max_value=60))
def test_any_changed_byte_is_found_within_the_reported_range(
    data: st.DataObject, size: int
) -> None:
    log = make_log(size)
    cuts = data.draw(st.lists(st.integers(min_value=1, max_value=size), min_size=1, unique=True))
    signed = [checkpoint(log, cut) for cut in sorted(cuts)]
    victim = data.draw(st.integers(min_value=0, max_value=size - 1))
    position = data.draw(st.integers(min_value=0, max_value=len(log[victim][1]) - 1))
    changed = bytearray(log[victim][1])
    changed[position] ^= data.draw(st.integers(min_value=1, max_value=255))
    log[victim] = (victim, bytes(changed))
    report = verify_log(log, signed, VERIFIER)
    if victim >= max(cuts):
        assert report.ok
        assert report.warnings[0].kind is ProblemKind.UNSIGNED_TAIL
        return
    problem = report.first_error
    assert problem is not None
    assert problem.kind is ProblemKind.ROOT_MISMATCH
    assert problem.index is not None
    assert problem.end is not None
    assert problem.index <= victim < problem.end
