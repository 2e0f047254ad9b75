"""The embedded default: one SQLite file in WAL mode.

Durability: ``synchronous=FULL`` (every commit is fsynced); appends are grouped into one
transaction per batch by the writer, so the fsync cost is shared. Triggers refuse UPDATE
and DELETE: the log is append-only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from hotline.server.errors import ConfigurationError
from hotline.server.storage.backend import StoredRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    idx      INTEGER PRIMARY KEY,
    kind     INTEGER NOT NULL,
    hotline  INTEGER NOT NULL,
    sequence INTEGER NOT NULL,
    data     BLOB    NOT NULL
);
CREATE INDEX IF NOT EXISTS log_hotline_sequence ON log (hotline, sequence) WHERE sequence > 0;
CREATE TRIGGER IF NOT EXISTS log_no_update BEFORE UPDATE ON log
BEGIN SELECT RAISE(ABORT, 'the hotline log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS log_no_delete BEFORE DELETE ON log
BEGIN SELECT RAISE(ABORT, 'the hotline log is append-only'); END;
"""


class SqliteBackend:
    """A log in one SQLite file."""

    def __init__(self, path: Path, durable: bool = True, *, create: bool = True) -> None:
        self.path = path
        self._durable = durable
        if not create and not path.exists():
            raise ConfigurationError(f"no log at {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._db.execute("PRAGMA busy_timeout=10000")
            if create:
                self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as error:
            raise ConfigurationError(f"{path}: not a usable hotline log: {error}") from None

    def append(self, records: Sequence[StoredRecord]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT INTO log (idx, kind, hotline, sequence, data) VALUES (?, ?, ?, ?, ?)",
                [(r.index, r.kind, r.hotline, r.sequence, r.data) for r in records],
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def read(self, start: int = 0, end: int | None = None) -> Iterator[StoredRecord]:
        rows = self._db.execute(
            "SELECT idx, kind, hotline, sequence, data FROM log "
            "WHERE idx >= ? AND idx < ? ORDER BY idx",
            (start, end if end is not None else 2**63 - 1),
        )
        for row in rows:
            yield StoredRecord(*row)

    def hotline_items(self, hotline: int, after_sequence: int) -> Iterator[StoredRecord]:
        rows = self._db.execute(
            "SELECT idx, kind, hotline, sequence, data FROM log "
            "WHERE hotline = ? AND sequence > ? ORDER BY sequence",
            (hotline, after_sequence),
        )
        for row in rows:
            yield StoredRecord(*row)

    def size(self) -> int:
        (count,) = self._db.execute("SELECT count(*) FROM log").fetchone()
        return int(count)

    def reader(self) -> SqliteBackend:
        return SqliteBackend(self.path, self._durable, create=False)

    def close(self) -> None:
        self._db.close()
