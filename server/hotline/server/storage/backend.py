"""The storage contract shared by every backend."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

#: A record as the verifier reads it: index, stored bytes, stored leaf hash.
StoredEntry = tuple[int, bytes, bytes]


# Not frozen: one is made for every record, and a frozen dataclass's __init__ costs
# several times a plain one's.
@dataclass(slots=True)
class StoredRecord:
    """One log record as stored: ``data`` is the serialised ``LogRecord``, exactly the
    bytes the audit trail hashes; the other fields are copies kept for queries."""

    index: int
    kind: int
    hotline: int
    # Per-hotline sequence number; 0 for records that are not hotline traffic.
    sequence: int
    data: bytes
    # An envelope's :func:`~hotline.server.message_ids.message_key`, stored for the look
    # up of a retried id; not read back with the record.
    message_key: int | None = None


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A signed checkpoint as stored next to the records it covers.

    ``note`` is the C2SP signed note, the only part that proves anything. ``frontier`` is
    the Merkle tree's frontier at ``size`` (see ``MerkleTree.frontier``), kept so that a
    restarted server resumes the tree without rehashing the log; it is checked against
    the signed root before it is trusted.
    """

    size: int
    note: str
    frontier: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """The server's live state as it stood after records ``0 .. index - 1``: what a
    restart reads instead of those records. Not part of the audit trail (it proves
    nothing and is rebuilt from the records when it cannot be used); only the latest
    is kept, and the earlier one at index ``keeps`` if it names one (a part of its state
    that it does not repeat)."""

    index: int
    state: bytes
    keeps: int | None = None


class Backend(Protocol):
    """Append-only storage of log records, their leaf hashes and signed checkpoints.

    Implementations are not thread-safe: the writer thread owns one instance and readers
    open their own with :meth:`reader`. Updates and deletions are refused by the store
    itself, not only by this code.
    """

    def append(
        self,
        records: Sequence[StoredRecord],
        leaf_hashes: Sequence[bytes],
        checkpoints: Sequence[StoredCheckpoint] = (),
        snapshot: StoredSnapshot | None = None,
    ) -> None:
        """Stores ``records`` with their leaf hashes (one each, same order), the
        ``checkpoints`` signed over them and a ``snapshot`` (replacing older ones), all
        in one transaction; durable when it returns. Raises the driver's error if the
        transaction fails, in which case nothing was stored."""

    def read(self, start: int = 0, end: int | None = None) -> Iterator[StoredRecord]:
        """Records with ``start <= index < end`` in index order."""

    def entries(self, start: int = 0, end: int | None = None) -> Iterator[StoredEntry]:
        """``(index, data, leaf hash)`` of records ``start <= index < end`` in index
        order, streamed: what an auditor checks."""

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        """The stored leaf hashes of records ``start <= index < end``, in index order."""

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every stored checkpoint, in the order they were issued."""

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The checkpoint issued last, or ``None`` for a log never signed."""

    def hotline_items(self, hotline: int, after_sequence: int) -> Iterator[StoredRecord]:
        """Hotline traffic with a sequence number above ``after_sequence``, in order."""

    def at_sequence(self, hotline: int, sequence: int) -> StoredRecord | None:
        """The record numbered ``sequence`` on ``hotline``, if there is one."""

    def latest_snapshot(self) -> StoredSnapshot | None:
        """The snapshot stored last, if any."""

    def snapshot_at(self, index: int) -> StoredSnapshot | None:
        """The snapshot stored at ``index``, if it is kept."""

    def message_keys(self, start: int, end: int) -> list[int]:
        """The message keys stored with the records ``start <= index < end``."""

    def with_message_key(self, key: int) -> list[StoredRecord]:
        """The records stored with ``message_key`` ``key`` (usually none, or one)."""

    def size(self) -> int:
        """Number of records."""

    def reader(self) -> Backend:
        """A new connection to the same log, for use by another thread."""

    def close(self) -> None: ...


def is_postgres_url(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


def pack_hashes(hashes: Sequence[bytes]) -> bytes:
    """32-byte hashes side by side, as stored in a checkpoint's frontier column."""
    return b"".join(hashes)


def unpack_hashes(packed: bytes) -> tuple[bytes, ...]:
    """The hashes :func:`pack_hashes` joined; raises ``ValueError`` for a bad length."""
    if len(packed) % 32:
        raise ValueError("a stored frontier is not a whole number of 32-byte hashes")
    return tuple(packed[i : i + 32] for i in range(0, len(packed), 32))


def stored_checkpoint(size: int, note: str, frontier: bytes) -> StoredCheckpoint:
    """A checkpoint row as read back (any backend). A damaged frontier only costs a
    rehash at start-up; the signed note is what counts."""
    try:
        hashes = unpack_hashes(bytes(frontier))
    except ValueError:
        hashes = ()
    return StoredCheckpoint(size, note, hashes)
