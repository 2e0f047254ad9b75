"""Offline verification of a copy of the audit log against its signed checkpoints.

:func:`verify_log` reads the records once, in log order, recomputes every leaf and the
tree, and reports everything that does not match what the server signed: a record
missing, repeated or out of place, a record whose bytes changed, a log cut short, a
checkpoint that is malformed, signed by another key, forged, or contradicting another.
Records after the last checkpoint are reported as an unsigned tail, a warning: nothing
proves them either way. The report says exactly which records are proven and by which
checkpoint (:meth:`VerificationReport.proven`), and lists its problems by how
fundamental they are (the trust in the key and the checkpoints first, the records
nothing proves last).

:func:`export_proof` and :func:`verify_proof_bundle` do the same for a single record:
a JSON document holding the record, its inclusion proof and a signed checkpoint, which
anyone with the verifier key can check without the log.
"""

from __future__ import annotations

import base64
import hashlib
import json
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from hotline.server.audit._codec import strict_b64decode
from hotline.server.audit.checkpoint import (
    Checkpoint,
    parse_and_verify_checkpoint,
    parse_checkpoint,
)
from hotline.server.audit.errors import (
    BadSignature,
    MalformedInput,
    MalformedProofBundle,
    UnknownKey,
)
from hotline.server.audit.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    LeafSource,
    MerkleTree,
    SubtreeHasher,
    inclusion_proof,
    leaf_hash,
    verify_inclusion,
)
from hotline.server.audit.note import Verifier, parse_note

__all__ = [
    "BUNDLE_FORMAT",
    "LogEntry",
    "Problem",
    "ProblemKind",
    "ProvenRecord",
    "Severity",
    "VerificationReport",
    "export_proof",
    "verify_log",
    "verify_proof_bundle",
]

LogEntry = tuple[int, bytes] | tuple[int, bytes, bytes | None]
"""A record as read from the store: its index, its stored bytes and, if the store keeps
one, the leaf hash it recorded when the record was written."""

BUNDLE_FORMAT = "hotline-audit-proof/v1"

# Leaf hashes are handed to the tree in batches this large; see MerkleTree.extend.
_BATCH = 1 << 14
_NEVER = 1 << 64
_T = TypeVar("_T")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class ProblemKind(StrEnum):
    """What is wrong; the value is the stable name printed by tools."""

    MISSING_RECORD = "missing-record"
    DUPLICATE_RECORD = "duplicate-record"
    OUT_OF_ORDER = "out-of-order"
    HASH_MISMATCH = "hash-mismatch"
    ROOT_MISMATCH = "root-mismatch"
    TRUNCATED = "truncated"
    UNSIGNED_TAIL = "unsigned-tail"
    NO_CHECKPOINT = "no-checkpoint"
    MALFORMED_CHECKPOINT = "malformed-checkpoint"
    UNKNOWN_KEY = "unknown-key"
    BAD_SIGNATURE = "bad-signature"
    WRONG_ORIGIN = "wrong-origin"
    CHECKPOINT_ORDER = "checkpoint-order"
    INCONSISTENT_CHECKPOINTS = "inconsistent-checkpoints"
    # Found by reading the records themselves (see hotline.server.audit.stored).
    INDEX_MISMATCH = "index-mismatch"
    UNREADABLE_RECORD = "unreadable-record"
    UNANSWERED_MESSAGE = "unanswered-message"
    UNHASHED_RECORDS = "unhashed-records"
    TIME_ORDER = "time-order"


# Kinds whose ``index`` names the offending record itself rather than a range that
# contains it: they say exactly where to look.
_PINPOINTED = frozenset(
    {
        ProblemKind.MISSING_RECORD,
        ProblemKind.DUPLICATE_RECORD,
        ProblemKind.OUT_OF_ORDER,
        ProblemKind.HASH_MISMATCH,
        ProblemKind.TRUNCATED,
        ProblemKind.INDEX_MISMATCH,
        ProblemKind.UNREADABLE_RECORD,
        ProblemKind.TIME_ORDER,
    }
)

# How fundamental each kind is, most first: a problem explains those below it, never
# the other way round. With the wrong key every checkpoint is untrusted, and so every
# record unsigned: the key is the cause and comes first.
_RANK: dict[ProblemKind, int] = {
    # What every proof rests on: the key, the checkpoints, the leaf hashes.
    ProblemKind.UNHASHED_RECORDS: 0,
    ProblemKind.NO_CHECKPOINT: 0,
    ProblemKind.UNKNOWN_KEY: 0,
    ProblemKind.BAD_SIGNATURE: 0,
    ProblemKind.MALFORMED_CHECKPOINT: 0,
    ProblemKind.WRONG_ORIGIN: 0,
    # The signer's history contradicts itself.
    ProblemKind.INCONSISTENT_CHECKPOINTS: 1,
    ProblemKind.CHECKPOINT_ORDER: 1,
    # One record named (the pinpointed kinds, by index), then a range that holds one.
    **dict.fromkeys(_PINPOINTED, 2),
    ProblemKind.ROOT_MISMATCH: 3,
    # Consequences: records nothing proves, then what the records say of the protocol.
    ProblemKind.UNSIGNED_TAIL: 4,
    ProblemKind.UNANSWERED_MESSAGE: 5,
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding. ``index`` is the first record concerned and ``end`` one past the last
    when it is a range; ``checkpoint`` is the position (from 0) of the checkpoint
    concerned in the list that was given."""

    kind: ProblemKind
    message: str
    index: int | None = None
    end: int | None = None
    checkpoint: int | None = None
    severity: Severity = Severity.ERROR

    @property
    def pinpointed(self) -> bool:
        """Whether ``index`` is the offending record itself."""
        return self.kind in _PINPOINTED

    def _order(self) -> tuple[bool, int, int, int]:
        return (
            self.severity is not Severity.ERROR,
            _RANK[self.kind],
            _NEVER if self.index is None else self.index,
            -1 if self.checkpoint is None else self.checkpoint,
        )


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """The outcome of :func:`verify_log`.

    ``problems`` lists errors before warnings, each by how fundamental it is: the key
    and the checkpoints first (nothing is proven without them), then the signer's
    history, then problems that name one record (by index), then ranges of records,
    then records nothing proves, then the protocol; so ``problems[0]`` is the first
    place to look. ``verified_size`` is the size of the largest checkpoint the records
    match: records below it are exactly the ones that were signed, and
    ``verified_checkpoint`` the position of that checkpoint in the list given.
    """

    problems: tuple[Problem, ...]
    records_checked: int
    checkpoints_checked: int
    verified_size: int
    origin: str | None
    problems_omitted: int = 0
    verified_checkpoint: int | None = None

    @property
    def ok(self) -> bool:
        """True when nothing but warnings was found."""
        return not self.errors

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.WARNING)

    @property
    def first_error(self) -> Problem | None:
        errors = self.errors
        return errors[0] if errors else None

    @property
    def unsigned(self) -> tuple[int, int] | None:
        """``(first, end)`` of the records after the largest signed checkpoint, of a log
        that verifies otherwise (an allowed unsigned tail); ``None`` if there are none,
        or if the log does not verify (then the records past ``verified_size`` are not
        proven, whatever the reason)."""
        if not self.ok or self.verified_size >= self.records_checked:
            return None
        return self.verified_size, self.records_checked

    def proven(self) -> str:
        """Which records are proven, and by which checkpoint, in one sentence:
        ``records 0..79 verified against checkpoint 3 (size 80); records 80..110 (31) are
        covered by no signed checkpoint``."""
        if not self.records_checked:
            return "the log is empty"
        if self.verified_size:
            which = (
                f"checkpoint {self.verified_checkpoint} (size {self.verified_size})"
                if self.verified_checkpoint is not None
                else f"the checkpoint of size {self.verified_size}"
            )
            proven = f"records 0..{self.verified_size - 1} verified against {which}"
        else:
            proven = "no record matches a signed checkpoint"
        unsigned = self.unsigned
        if unsigned is None:
            return proven
        first, end = unsigned
        return (
            f"{proven}; records {first}..{end - 1} ({end - first}) are covered by no "
            "signed checkpoint"
        )

    def summary(self) -> str:
        """A human-readable account, one problem per line, ending with the verdict."""
        lines = [f"{p.severity.value}: {p.kind.value}: {p.message}" for p in self.problems]
        if self.problems_omitted:
            lines.append(f"... and {self.problems_omitted} more problems with records")
        verdict = "OK" if self.ok else "FAILED"
        lines.append(
            f"{verdict}: {self.records_checked} records and {self.checkpoints_checked} "
            f"checkpoint(s) checked; {self.proven()}"
        )
        return "\n".join(lines)


def _records(first: int, end: int) -> str:
    """``record 7 is`` or ``records 7..9 (3 records) are``, to start a sentence."""
    if end - first == 1:
        return f"record {first} is"
    return f"records {first}..{end - 1} ({end - first} records) are"


class _Findings:
    """Problems as they are found; record-level ones are capped at ``limit``."""

    def __init__(self, limit: int) -> None:
        self.problems: list[Problem] = []
        self.record_problems = 0
        self.omitted = 0
        self._limit = limit

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)

    def add_record(self, problem: Problem) -> None:
        if self.record_problems >= self._limit:
            self.omitted += 1
            return
        self.record_problems += 1
        self.problems.append(problem)


def _check_checkpoints(
    texts: Iterable[str | bytes],
    verifier: Verifier | Sequence[Verifier],
    origin: str | None,
    findings: _Findings,
) -> tuple[list[tuple[int, Checkpoint]], int, str | None]:
    """The checkpoints whose signature verifies, with their positions; the number seen;
    and the log's origin."""
    valid: list[tuple[int, Checkpoint]] = []
    seen = 0
    for pos, text in enumerate(texts):
        seen += 1
        try:
            checkpoint = parse_and_verify_checkpoint(text, verifier)
        except MalformedInput as exc:
            kind, message = ProblemKind.MALFORMED_CHECKPOINT, exc.message
        except UnknownKey as exc:
            kind, message = ProblemKind.UNKNOWN_KEY, exc.message
        except BadSignature as exc:
            kind, message = ProblemKind.BAD_SIGNATURE, exc.message
        else:
            if origin is None:
                origin = checkpoint.origin
            if checkpoint.origin == origin:
                valid.append((pos, checkpoint))
                continue
            kind = ProblemKind.WRONG_ORIGIN
            message = f"it is for log {checkpoint.origin!r}, not {origin!r}"
        findings.add(Problem(kind, f"checkpoint {pos}: {message}", checkpoint=pos))
    if not seen:
        findings.add(
            Problem(
                ProblemKind.NO_CHECKPOINT,
                "no signed checkpoint was given, so nothing in the log can be verified",
            )
        )

    # The signer's history: a log only grows, and one size has one root.
    previous: tuple[int, Checkpoint] | None = None
    first_at_size: dict[int, tuple[int, Checkpoint]] = {}
    for pos, checkpoint in valid:
        if previous is not None and checkpoint.size < previous[1].size:
            findings.add(
                Problem(
                    ProblemKind.CHECKPOINT_ORDER,
                    f"checkpoint {pos} (size {checkpoint.size}) comes after checkpoint "
                    f"{previous[0]} (size {previous[1].size}), but a log never shrinks",
                    checkpoint=pos,
                )
            )
        earlier = first_at_size.setdefault(checkpoint.size, (pos, checkpoint))
        if earlier[1].root != checkpoint.root:
            findings.add(
                Problem(
                    ProblemKind.INCONSISTENT_CHECKPOINTS,
                    f"checkpoints {earlier[0]} and {pos} sign two different roots for the "
                    f"same size {checkpoint.size}: the log was forked",
                    checkpoint=pos,
                )
            )
        previous = (pos, checkpoint)
    return valid, seen, origin


def verify_log(
    records: Iterable[LogEntry],
    checkpoints: Iterable[str | bytes],
    verifier: Verifier | Sequence[Verifier],
    *,
    origin: str | None = None,
    max_problems: int = 100,
) -> VerificationReport:
    """Checks a copy of the log against signed checkpoints; every tampering found is a
    :class:`Problem` in the report, never an exception.

    ``records`` are ``(index, stored bytes)`` or ``(index, stored bytes, stored leaf
    hash)`` in the order the store holds them; the tree is built in that order.
    ``checkpoints`` are signed checkpoint notes in the order they were issued. Each must
    be signed by one of ``verifier``; all must be for ``origin`` (by default, the origin
    of the first valid one). At most ``max_problems`` problems with individual records
    are listed; the rest are counted in ``problems_omitted``.

    Every checkpoint's root must equal the root recomputed from the records at its size;
    two checkpoints whose roots both match are consistent by construction, so no
    consistency proof is needed.
    """
    findings = _Findings(max_problems)
    valid, seen, origin = _check_checkpoints(checkpoints, verifier, origin, findings)

    stops = sorted({checkpoint.size for _, checkpoint in valid if checkpoint.size > 0})
    stop_at = iter(stops)
    next_stop = next(stop_at, _NEVER)
    roots: dict[int, bytes] = {0: EMPTY_ROOT}

    tree = MerkleTree()
    pending: list[bytes] = []
    sha256 = hashlib.sha256
    count = 0
    flush_at = min(next_stop, _BATCH)
    expected = 0  # the index the next record should have
    last_index = -1
    # Index ranges skipped so far, as [start, end): missing unless they turn up later.
    gaps: list[list[int]] = []

    for entry in records:
        index = entry[0]
        h = sha256(b"\x00" + entry[1]).digest()
        if index == expected:
            expected += 1
        elif index > expected:
            gaps.append([expected, index])
            expected = index + 1
        else:
            at = bisect_right(gaps, index, key=lambda gap: gap[0]) - 1
            if at >= 0 and index < gaps[at][1]:
                start, end = gaps[at]
                gaps[at : at + 1] = [g for g in ([start, index], [index + 1, end]) if g[0] < g[1]]
                findings.add_record(
                    Problem(
                        ProblemKind.OUT_OF_ORDER,
                        f"record {index} is stored at position {count}, after record "
                        f"{last_index}: records were reordered",
                        index=index,
                    )
                )
            else:
                findings.add_record(
                    Problem(
                        ProblemKind.DUPLICATE_RECORD,
                        f"record {index} appears again at position {count}",
                        index=index,
                    )
                )
        if len(entry) > 2 and entry[2] is not None and entry[2] != h:
            findings.add_record(
                Problem(
                    ProblemKind.HASH_MISMATCH,
                    f"record {index}: its bytes do not hash to the leaf hash stored with it: "
                    "the record or its hash was altered after it was written",
                    index=index,
                )
            )
        last_index = index
        pending.append(h)
        count += 1
        if count == flush_at:
            tree.extend(pending)
            pending.clear()
            if count == next_stop:
                roots[count] = tree.root()
                next_stop = next(stop_at, _NEVER)
            flush_at = min(next_stop, count + _BATCH)
    tree.extend(pending)

    for start, end in gaps:
        findings.add_record(
            Problem(
                ProblemKind.MISSING_RECORD,
                f"{_records(start, end)} missing: the log goes from record {start - 1} "
                f"to record {end}"
                if start
                else f"{_records(start, end)} missing: the log starts at record {end}",
                index=start,
                end=end,
            )
        )

    verified_size = _compare_roots(valid, roots, count, findings)
    # The last checkpoint of that size whose root the records match.
    verified_checkpoint = max(
        (
            pos
            for pos, checkpoint in valid
            if 0 < checkpoint.size == verified_size and roots.get(verified_size) == checkpoint.root
        ),
        default=None,
    )

    signed_size = max((checkpoint.size for _, checkpoint in valid), default=0)
    if count > signed_size:
        findings.add(
            Problem(
                ProblemKind.UNSIGNED_TAIL,
                f"{_records(signed_size, count)} not covered by any signed checkpoint "
                f"(the largest is of size {signed_size}): nothing distinguishes a genuine "
                "record there from a forged one"
                if valid
                else f"{_records(signed_size, count)} not covered by any valid signed "
                "checkpoint: nothing distinguishes a genuine record there from a forged one",
                index=signed_size,
                end=count,
                severity=Severity.WARNING,
            )
        )

    return VerificationReport(
        problems=tuple(sorted(findings.problems, key=Problem._order)),
        records_checked=count,
        checkpoints_checked=seen,
        verified_size=verified_size,
        origin=origin,
        problems_omitted=findings.omitted,
        verified_checkpoint=verified_checkpoint,
    )


def _compare_roots(
    valid: list[tuple[int, Checkpoint]],
    roots: dict[int, bytes],
    count: int,
    findings: _Findings,
) -> int:
    """Compares each signed root with the recomputed one; returns the largest matching
    size."""
    matched = sorted({cp.size for _, cp in valid if cp.size <= count and roots[cp.size] == cp.root})
    longest = max(valid, key=lambda item: item[1].size, default=None)
    if longest is not None and longest[1].size > count:
        pos, checkpoint = longest
        findings.add(
            Problem(
                ProblemKind.TRUNCATED,
                f"the log has {count} records but checkpoint {pos} signs "
                f"{checkpoint.size}: {_records(count, checkpoint.size)} missing at the "
                "end (the log was truncated)",
                index=count,
                end=checkpoint.size,
                checkpoint=pos,
            )
        )
    # Mismatches that follow the same matching checkpoint all contain the same altered
    # records; only the smallest says where they are, the others are counted in it.
    ranges: dict[int, tuple[int, int, int]] = {}  # below -> (size, position, others)
    for pos, checkpoint in sorted(valid, key=lambda item: item[1].size):
        size = checkpoint.size
        if size > count or roots[size] == checkpoint.root:
            continue
        at = bisect_right(matched, size)
        if at < len(matched):
            # The records agree with a larger signed tree, whose prefix at this size is
            # not this root: the signer issued two histories, the records are fine.
            findings.add(
                Problem(
                    ProblemKind.INCONSISTENT_CHECKPOINTS,
                    f"checkpoint {pos} (size {size}) is not a prefix of the signed tree of "
                    f"size {matched[at]}, which the records match: the log was forked",
                    checkpoint=pos,
                )
            )
            continue
        below = matched[at - 1] if at else 0
        first = ranges.get(below)
        ranges[below] = (size, pos, 0) if first is None else (*first[:2], first[2] + 1)
    for below, (size, pos, others) in ranges.items():
        where = (
            f"record {below}"
            if size - below == 1
            else f"a record among records {below}..{size - 1}"
        )
        also = (
            f" ({others} later checkpoint(s) include these records and do not match either)"
            if others
            else ""
        )
        findings.add(
            Problem(
                ProblemKind.ROOT_MISMATCH,
                f"checkpoint {pos} (size {size}) does not match the records: {where} was "
                f"altered, inserted, removed or reordered after it was signed{also}",
                index=below,
                end=size,
                checkpoint=pos,
            )
        )
    return matched[-1] if matched else 0


@dataclass(frozen=True, slots=True)
class ProvenRecord:
    """A record proven to be in the log that a trusted key signed."""

    index: int
    data: bytes
    checkpoint: Checkpoint


def export_proof(
    data: bytes, index: int, leaves: LeafSource | SubtreeHasher, checkpoint: str
) -> str:
    """A self-contained JSON proof that ``data`` is record ``index`` of the log signed in
    ``checkpoint`` (a signed checkpoint note whose size is above ``index``).

    ``leaves`` gives the log's leaf hashes (see :data:`LeafSource`). The proof is checked
    before it is returned, so a bundle that would not verify is never written.
    Raises :class:`MalformedNote` or :class:`MalformedCheckpoint` for a bad checkpoint,
    ``ValueError`` if the checkpoint does not cover the record, and :class:`InvalidProof`
    if the record or the log's leaf hashes do not lead to the signed root.
    """
    signed = parse_checkpoint(parse_note(checkpoint).text)
    if index >= signed.size:
        raise ValueError(
            f"checkpoint of size {signed.size} does not cover record {index}; "
            "use a later checkpoint"
        )
    proof = inclusion_proof(leaves, index, signed.size)
    verify_inclusion(leaf_hash(data), index, signed.size, proof, signed.root)
    document = {
        "format": BUNDLE_FORMAT,
        "index": index,
        "record": base64.b64encode(data).decode(),
        "inclusion_proof": [base64.b64encode(h).decode() for h in proof],
        "checkpoint": checkpoint,
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _field(document: dict[str, object], name: str, kind: type[_T]) -> _T:
    value = document.get(name)
    # bool is an int in Python, but never a valid index.
    if not isinstance(value, kind) or isinstance(value, bool):
        raise MalformedProofBundle(f"the bundle's {name!r} is missing or not a {kind.__name__}")
    return value


def verify_proof_bundle(
    bundle: str | bytes,
    verifier: Verifier | Sequence[Verifier],
    *,
    origin: str | None = None,
) -> ProvenRecord:
    """Checks a bundle written by :func:`export_proof` with nothing but the verifier key.

    Raises :class:`MalformedProofBundle` if it is not such a bundle; the errors of
    :func:`parse_and_verify_checkpoint` for its checkpoint; and :class:`InvalidProof` if
    the record is not the one the checkpoint covers at that index.
    """
    try:
        document = json.loads(bundle)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedProofBundle(f"the bundle is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise MalformedProofBundle("the bundle is not a JSON object")
    if document.get("format") != BUNDLE_FORMAT:
        raise MalformedProofBundle(f"the bundle's format is not {BUNDLE_FORMAT!r}")
    index = _field(document, "index", int)
    record = _field(document, "record", str)
    path = _field(document, "inclusion_proof", list)
    text = _field(document, "checkpoint", str)
    try:
        data = strict_b64decode(record)
        proof = [strict_b64decode(h) for h in path if isinstance(h, str)]
    except ValueError as exc:
        raise MalformedProofBundle(f"the bundle's record or proof is {exc}") from None
    if len(proof) != len(path) or any(len(h) != HASH_SIZE for h in proof):
        raise MalformedProofBundle("the inclusion proof is not a list of base64 32-byte hashes")
    checkpoint = parse_and_verify_checkpoint(text, verifier, origin=origin)
    verify_inclusion(leaf_hash(data), index, checkpoint.size, proof, checkpoint.root)
    return ProvenRecord(index, data, checkpoint)
