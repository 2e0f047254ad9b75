"""Where the log is kept: SQLite by default, PostgreSQL by URL.

A backend stores :class:`StoredRecord` rows with their Merkle leaf hashes, and the
signed checkpoints over them, append-only. It is used from worker threads (one writer,
readers on demand), never from the event loop.
"""

from __future__ import annotations

from hotline.server.storage.backend import (
    Backend,
    StoredCheckpoint,
    StoredEntry,
    StoredRecord,
    is_postgres_url,
    open_backend,
)

__all__ = [
    "Backend",
    "StoredCheckpoint",
    "StoredEntry",
    "StoredRecord",
    "is_postgres_url",
    "open_backend",
]
