"""Where the log is kept: SQLite by default, PostgreSQL by URL.

A backend stores :class:`StoredRecord` rows with their Merkle leaf hashes, and the
signed checkpoints over them, append-only, and the latest :class:`StoredSnapshot` of the
server's live state. It is used from worker threads (one writer, readers on demand); the
event loop only reads the record of the rare retried message no longer in memory.
"""

from __future__ import annotations

from pathlib import Path

from hotline.server.storage.backend import (
    Backend,
    StoredCheckpoint,
    StoredEntry,
    StoredRecord,
    StoredSnapshot,
    is_postgres_url,
)
from hotline.server.storage.sqlite import SqliteBackend

__all__ = [
    "Backend",
    "StoredCheckpoint",
    "StoredEntry",
    "StoredRecord",
    "StoredSnapshot",
    "is_postgres_url",
    "open_backend",
]


def open_backend(location: str, durable: bool = True, *, create: bool = True) -> Backend:
    """A backend for a ``postgresql://`` URL or a SQLite file path.

    With ``create=False`` the log must already exist (for offline tools reading a copy).
    Raises :class:`~hotline.server.errors.ConfigurationError` if the location cannot be
    opened or does not hold a hotline log.
    """
    if is_postgres_url(location):
        # psycopg is imported only by those who keep the log in PostgreSQL.
        from hotline.server.storage.postgres import PostgresBackend  # noqa: PLC0415

        return PostgresBackend(location, durable=durable, create=create)
    return SqliteBackend(Path(location), durable=durable, create=create)
