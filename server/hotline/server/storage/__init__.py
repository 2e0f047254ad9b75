"""Where the log is kept: SQLite by default, PostgreSQL by URL.

A backend stores :class:`StoredRecord` rows with their Merkle leaf hashes, and the
signed checkpoints over them, append-only, and the latest :class:`StoredSnapshot` of the
server's live state. It is used from worker threads (one writer, readers on demand); the
event loop only reads the record of the rare retried message no longer in memory.
"""

from __future__ import annotations

from hotline.server.storage.backend import (
    Backend,
    StoredCheckpoint,
    StoredEntry,
    StoredRecord,
    StoredSnapshot,
    is_postgres_url,
    open_backend,
)

__all__ = [
    "Backend",
    "StoredCheckpoint",
    "StoredEntry",
    "StoredRecord",
    "StoredSnapshot",
    "is_postgres_url",
    "open_backend",
]
