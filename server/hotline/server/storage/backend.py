"""The storage contract shared by every backend."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One log record as stored: ``data`` is the serialised ``LogRecord``, exactly the
    bytes the audit trail hashes; the other fields are copies kept for queries."""

    index: int
    kind: int
    hotline: int
    # Per-hotline sequence number; 0 for records that are not hotline traffic.
    sequence: int
    data: bytes


class Backend(Protocol):
    """Append-only storage of log records. Implementations are not thread-safe: the
    writer thread owns one instance and readers open their own with :meth:`reader`."""

    def append(self, records: Sequence[StoredRecord]) -> None:
        """Stores ``records`` in one transaction; durable when it returns."""

    def read(self, start: int = 0, end: int | None = None) -> Iterator[StoredRecord]:
        """Records with ``start <= index < end`` in index order."""

    def hotline_items(self, hotline: int, after_sequence: int) -> Iterator[StoredRecord]:
        """Hotline traffic with a sequence number above ``after_sequence``, in order."""

    def size(self) -> int:
        """Number of records."""

    def reader(self) -> Backend:
        """A new connection to the same log, for use by another thread."""

    def close(self) -> None: ...


def open_backend(location: str, durable: bool = True) -> Backend:
    """A backend for a ``postgresql://`` URL or a SQLite file path."""
    from hotline.server.errors import ConfigurationError  # noqa: PLC0415
    from hotline.server.storage.sqlite import SqliteBackend  # noqa: PLC0415

    if location.startswith(("postgresql://", "postgres://")):
        raise ConfigurationError("the PostgreSQL backend is not available in this version")

    return SqliteBackend(Path(location), durable=durable)
