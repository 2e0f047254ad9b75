"""Where the log is kept: SQLite by default, PostgreSQL by URL.

A backend stores :class:`StoredRecord` rows append-only. It is used from worker threads
(one writer, readers on demand), never from the event loop.
"""

from __future__ import annotations

from hotline.server.storage.backend import Backend, StoredRecord, open_backend

__all__ = ["Backend", "StoredRecord", "open_backend"]
