"""The offline tools over a stored log: verify it whole, export one record's proof.

They read a backend (a copied SQLite file, or a PostgreSQL database) and nothing else;
the verifier key comes from the auditor, never from the log. Besides what
:func:`~hotline.server.audit.verify.verify_log` checks, the records are read as log
records: one that does not parse, or whose own index (inside the hashed bytes) is not
where it is stored, is named; their times must not go backwards (a record whose
``recorded_at`` was moved is named with its neighbours' times, even when every
checkpoint was signed again over it); and the protocol is checked (see
:mod:`.protocol`). A log written with the audit trail off (``hotline serve
--no-audit``) has no leaf hashes and no checkpoints: it is refused, with an
``unhashed-records`` problem that says so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence

from google.protobuf.message import DecodeError

from hotline.contract import seconds
from hotline.server.audit.checkpoint import parse_checkpoint
from hotline.server.audit.errors import MalformedInput, NotInLog
from hotline.server.audit.note import Verifier, parse_note
from hotline.server.audit.protocol import ProtocolCheck
from hotline.server.audit.trail import UNHASHED
from hotline.server.audit.verify import (
    LogEntry,
    Problem,
    ProblemKind,
    Severity,
    VerificationReport,
    export_proof,
    verify_log,
)
from hotline.server.storage import Backend
from hotline.v1 import log_pb2

__all__ = ["CLOCK_STEP_S", "export_stored_proof", "verify_stored_log"]

#: The server stamps every record from its clock as it appends it, so recorded times
#: never go back, but for the clock being adjusted: a step back this small (NTP corrects
#: by milliseconds) is not reported, a larger one is.
CLOCK_STEP_S = 1.0


def _size_of(note: str) -> int | None:
    try:
        return parse_checkpoint(parse_note(note).text).size
    except MalformedInput:
        return None


def _utc(at: float) -> str:
    moment = dt.datetime.fromtimestamp(at, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _TimeOrder:
    """Finds the records whose ``recorded_at`` goes backwards in log order.

    A record whose time was moved stands out against its two neighbours, which still
    agree with each other: it is named with its time and theirs. A step back that no
    single record explains (at either end of the log, or where a run of records was
    moved) is named by the record after the step, with the time of the one before.
    """

    def __init__(self, report: Callable[[Problem], None]) -> None:
        self._report = report
        # The last three records read, as (index, time), in log order.
        self._window: list[tuple[int, float]] = []
        self._named: set[int] = set()

    def add(self, index: int, at: float) -> None:
        window = self._window
        window.append((index, at))
        if len(window) == 3:
            self._middle(*window)
            self._step(window[0], window[1])
            del window[0]

    def finish(self) -> None:
        """Judges the last step; call once every record was added."""
        if len(self._window) == 2:
            self._step(*self._window)

    def _middle(
        self, before: tuple[int, float], this: tuple[int, float], after: tuple[int, float]
    ) -> None:
        if after[1] < before[1] - CLOCK_STEP_S:
            return  # the neighbours disagree too: not one record out of place
        index, at = this
        if at < before[1] - CLOCK_STEP_S:
            moved = "back"
        elif at > after[1] + CLOCK_STEP_S:
            moved = "forward"
        else:
            return
        self._named.add(index)
        self._report(
            Problem(
                ProblemKind.TIME_ORDER,
                f"record {index} says it was recorded at {_utc(at)}, out of time order "
                f"with record {before[0]} ({_utc(before[1])}) before it and record "
                f"{after[0]} ({_utc(after[1])}) after it: its time was moved {moved} "
                "(the record was altered)",
                index=index,
            )
        )

    def _step(self, before: tuple[int, float], this: tuple[int, float]) -> None:
        if this[1] >= before[1] - CLOCK_STEP_S or {before[0], this[0]} & self._named:
            return
        self._report(
            Problem(
                ProblemKind.TIME_ORDER,
                f"record {this[0]} says it was recorded at {_utc(this[1])}, before record "
                f"{before[0]} ({_utc(before[1])}) that precedes it: the log's time goes "
                "backwards here (one of the two was altered, or the server's clock was "
                "set back)",
                index=this[0],
            )
        )


def _point_out(problems: list[Problem]) -> list[Problem]:
    """Root mismatches that hold a record named for its time say which record it is."""
    named = sorted(
        p.index for p in problems if p.kind is ProblemKind.TIME_ORDER and p.index is not None
    )
    pointed: list[Problem] = []
    for problem in problems:
        inside = []
        if problem.kind is ProblemKind.ROOT_MISMATCH and problem.index is not None:
            end = problem.end if problem.end is not None else problem.index + 1
            inside = [str(i) for i in named if problem.index <= i < end]
        if not inside:
            pointed.append(problem)
            continue
        records = f"record {inside[0]}" if len(inside) == 1 else f"records {', '.join(inside)}"
        message = f"{problem.message}; {records} in that range out of time order"
        pointed.append(dataclasses.replace(problem, message=message))
    return pointed


def _merge(stored: list[str], extra: Sequence[str]) -> list[str]:
    """The stored checkpoints in issue order, with the auditor's own copies slotted in by
    size (their place among the stored ones is not known)."""
    merged = list(stored)
    for note in extra:
        size = _size_of(note)
        if size is None:
            merged.append(note)
            continue
        sizes = [s if s is not None else -1 for s in map(_size_of, merged)]
        merged.insert(bisect_right(sizes, size), note)
    return merged


def verify_stored_log(
    backend: Backend,
    verifier: Verifier | Sequence[Verifier],
    *,
    checkpoints: Sequence[str] = (),
    origin: str | None = None,
    allow_unsigned_tail: bool = False,
    max_problems: int = 100,
) -> VerificationReport:
    """Verifies every record and checkpoint of a stored log; tampering is reported as
    problems, never raised.

    ``checkpoints`` are signed checkpoints the auditor kept apart from the log (the
    latest one published, say): a log cut short together with its stored checkpoints
    still fails against them. Records after the last signed checkpoint are an error
    (``unsigned-tail``: a forged record appended looks exactly like them) unless
    ``allow_unsigned_tail``, for a copy taken from a server that was still running or
    crashed. Raises the driver's error only if the store cannot be read at all.
    """
    extra: list[Problem] = []
    protocol = ProtocolCheck()
    # Records stored without a leaf hash: the first one's index, and how many.
    first_unhashed: int | None = None
    unhashed = 0

    def note(problem: Problem) -> None:
        if len(extra) < max_problems:
            extra.append(problem)

    times = _TimeOrder(note)

    def entries() -> Iterator[LogEntry]:
        nonlocal first_unhashed, unhashed
        for stored_index, data, leaf in backend.entries():
            index = stored_index
            try:
                record = log_pb2.LogRecord.FromString(data)
            except DecodeError:
                note(
                    Problem(
                        ProblemKind.UNREADABLE_RECORD,
                        f"record {stored_index}: its bytes are not a log record",
                        index=stored_index,
                    )
                )
            else:
                if record.index != stored_index:
                    note(
                        Problem(
                            ProblemKind.INDEX_MISMATCH,
                            f"the record stored as record {stored_index} says it is "
                            f"record {record.index}: records were moved",
                            index=stored_index,
                        )
                    )
                    # The index inside the hashed bytes is the one the signer saw.
                    index = record.index
                protocol.add(record)
                times.add(index, seconds(record.recorded_at))
            if leaf == UNHASHED:
                # Written by a server with the trail off: there is no stored hash to
                # compare, so the record is hashed here and the log refused below.
                if first_unhashed is None:
                    first_unhashed = stored_index
                unhashed += 1
                yield index, data
            else:
                yield index, data, leaf

    notes = _merge([c.note for c in backend.checkpoints()], checkpoints)
    report = verify_log(entries(), notes, verifier, origin=origin, max_problems=max_problems)
    times.finish()

    for message in protocol.unanswered():
        parties = ", ".join(sorted(message.parties))
        note(
            Problem(
                ProblemKind.UNANSWERED_MESSAGE,
                f"message {message.message_id!r} (record {message.index}) was never "
                f"answered by {parties}, and no missed deadline or escalation was recorded",
                index=message.index,
            )
        )
    if first_unhashed is not None:
        # Not capped by max_problems: it is the reason the log cannot be verified.
        extra.append(
            Problem(
                ProblemKind.UNHASHED_RECORDS,
                f"{unhashed} record(s) from record {first_unhashed} on were stored without "
                "a leaf hash: the log was written with the audit trail off (hotline serve "
                "--no-audit, for benchmarks only) and cannot be verified",
                index=first_unhashed,
            )
        )
    problems = _point_out(list(report.problems) + extra)
    if not allow_unsigned_tail:
        problems = [
            dataclasses.replace(p, severity=Severity.ERROR)
            if p.kind is ProblemKind.UNSIGNED_TAIL
            else p
            for p in problems
        ]
    problems.sort(key=Problem._order)
    return dataclasses.replace(report, problems=tuple(problems))


def export_stored_proof(backend: Backend, index: int) -> str:
    """The proof bundle (see :func:`~hotline.server.audit.verify.export_proof`) of
    record ``index``, against the latest stored checkpoint.

    Raises :class:`NotInLog` if there is no such record or no checkpoint covers it yet,
    and :class:`~hotline.server.audit.errors.InvalidProof` if the stored record or leaf
    hashes do not lead to the signed root (the log was altered).
    """
    found = list(backend.entries(index, index + 1))
    if not found:
        raise NotInLog(f"the log has no record {index} (it holds {backend.size()})")
    _, data, _ = found[0]
    latest = backend.latest_checkpoint()
    if latest is None or latest.size <= index:
        signed = 0 if latest is None else latest.size
        raise NotInLog(
            f"record {index} is not covered by a signed checkpoint yet (the latest signs "
            f"{signed} records); export it after the server signs the next one"
        )
    return export_proof(data, index, backend.leaf_hashes, latest.note)
