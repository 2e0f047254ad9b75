"""The embedded default: one SQLite file in WAL mode.

Durability: ``synchronous=FULL`` (every commit is fsynced); appends are grouped into one
transaction per batch by the writer, so the fsync cost is shared. Triggers refuse UPDATE
and DELETE on the records and on the checkpoints: the log is append-only.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path

from hotline.server.errors import ConfigurationError
from hotline.server.storage.backend import (
    StoredCheckpoint,
    StoredEntry,
    StoredRecord,
    StoredSnapshot,
    pack_hashes,
    stored_checkpoint,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    idx       INTEGER PRIMARY KEY,
    kind      INTEGER NOT NULL,
    hotline   INTEGER NOT NULL,
    sequence  INTEGER NOT NULL,
    data      BLOB    NOT NULL,
    leaf_hash BLOB    NOT NULL,
    -- An envelope's message_key (hotline.server.message_ids): how a retry finds it.
    message_key INTEGER
);
CREATE INDEX IF NOT EXISTS log_hotline_sequence ON log (hotline, sequence) WHERE sequence > 0;
CREATE INDEX IF NOT EXISTS log_message_key ON log (message_key) WHERE message_key IS NOT NULL;
CREATE TRIGGER IF NOT EXISTS log_no_update BEFORE UPDATE ON log
BEGIN SELECT RAISE(ABORT, 'the hotline log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS log_no_delete BEFORE DELETE ON log
BEGIN SELECT RAISE(ABORT, 'the hotline log is append-only'); END;
CREATE TABLE IF NOT EXISTS checkpoints (
    seq      INTEGER PRIMARY KEY,
    size     INTEGER NOT NULL,
    note     TEXT    NOT NULL,
    frontier BLOB    NOT NULL
);
CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'the hotline log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'the hotline log is append-only'); END;
CREATE TABLE IF NOT EXISTS snapshots (
    idx   INTEGER PRIMARY KEY,
    state BLOB    NOT NULL
);
"""

_END = 2**63 - 1
#: Rows inserted by one statement at most (7 parameters each).
_ROWS_PER_STATEMENT = 256
#: Prepared statements kept per connection: one INSERT for every batch size, and reads.
_STATEMENT_CACHE = _ROWS_PER_STATEMENT + 64
_RECORD = "SELECT idx, kind, hotline, sequence, data FROM log"
#: Hotline traffic: the condition of the partial index log_hotline_sequence, repeated in
#: the queries it is to serve (the planner uses it only when the query implies it).
_TRAFFIC = "sequence > 0"


@functools.cache
def _insert_rows(count: int) -> str:
    """An INSERT of ``count`` records with their leaf hashes."""
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * count)
    columns = "idx, kind, hotline, sequence, data, leaf_hash, message_key"
    return f"INSERT INTO log ({columns}) VALUES {values}"


class SqliteBackend:
    """A log in one SQLite file."""

    def __init__(self, path: Path, durable: bool = True, *, create: bool = True) -> None:
        """Opens (and with ``create``, creates) the log at ``path``; without ``create``
        the connection is read-only. Raises
        :class:`ConfigurationError` if it is missing (without ``create``) or is not a
        hotline log of this version."""
        self.path = path
        self._durable = durable
        if not create and not path.is_file():
            raise ConfigurationError(f"no log at {path}")
        try:
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(
                    path,
                    isolation_level=None,
                    check_same_thread=False,
                    cached_statements=_STATEMENT_CACHE,
                )
                self._db.execute("PRAGMA journal_mode=WAL")
            else:
                # Readers and offline tools never write: a copied log stays as it was.
                uri = f"{path.resolve().as_uri()}?mode=ro"
                self._db = sqlite3.connect(
                    uri, uri=True, isolation_level=None, check_same_thread=False
                )
            self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._db.execute("PRAGMA busy_timeout=10000")
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(log)")}
            if create and (not columns or "message_key" in columns):
                self._db.executescript(_SCHEMA)
                columns = {row[1] for row in self._db.execute("PRAGMA table_info(log)")}
        except sqlite3.DatabaseError as error:
            raise ConfigurationError(f"{path}: not a usable hotline log: {error}") from None
        if "leaf_hash" not in columns or (create and "message_key" not in columns):
            self._db.close()
            raise ConfigurationError(
                f"{path}: a log of an earlier hotline version; the offline tools (audit, "
                "replay, export, report) read it, but the server needs a new log"
            )

    def append(
        self,
        records: Sequence[StoredRecord],
        leaf_hashes: Sequence[bytes],
        checkpoints: Sequence[StoredCheckpoint] = (),
        snapshot: StoredSnapshot | None = None,
    ) -> None:
        """Appends ``records`` (with their leaf hashes) and ``checkpoints`` atomically.

        The writer thread gives up the GIL for every SQLite statement it steps, and gets it
        back only when the event loop's thread lets go of it (up to the switch interval).
        So the rows go in one multi-row INSERT, not one statement each, and a batch without
        checkpoints is that one statement in its own transaction.
        """
        if len(records) != len(leaf_hashes):
            raise ValueError("one leaf hash per record")
        rows = [
            (r.index, r.kind, r.hotline, r.sequence, r.data, h, r.message_key)
            for r, h in zip(records, leaf_hashes, strict=True)
        ]
        inserts = [
            (_insert_rows(len(chunk)), [value for row in chunk for value in row])
            for chunk in (
                rows[first : first + _ROWS_PER_STATEMENT]
                for first in range(0, len(rows), _ROWS_PER_STATEMENT)
            )
        ]
        db = self._db
        if not checkpoints and snapshot is None and len(inserts) == 1:
            db.execute(*inserts[0])
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            for insert in inserts:
                db.execute(*insert)
            db.executemany(
                "INSERT INTO checkpoints (size, note, frontier) VALUES (?, ?, ?)",
                [(c.size, c.note, pack_hashes(c.frontier)) for c in checkpoints],
            )
            if snapshot is not None:
                db.execute(
                    "INSERT OR REPLACE INTO snapshots (idx, state) VALUES (?, ?)",
                    (snapshot.index, snapshot.state),
                )
                db.execute(
                    "DELETE FROM snapshots WHERE idx < ? AND idx IS NOT ?",
                    (snapshot.index, snapshot.keeps),
                )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def read(self, start: int = 0, end: int | None = None) -> Iterator[StoredRecord]:
        rows = self._db.execute(
            f"{_RECORD} WHERE idx >= ? AND idx < ? ORDER BY idx",
            (start, _END if end is None else end),
        )
        for row in rows:
            yield StoredRecord(*row)

    def entries(self, start: int = 0, end: int | None = None) -> Iterator[StoredEntry]:
        rows = self._db.execute(
            "SELECT idx, data, leaf_hash FROM log WHERE idx >= ? AND idx < ? ORDER BY idx",
            (start, _END if end is None else end),
        )
        yield from rows

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        rows = self._db.execute(
            "SELECT leaf_hash FROM log WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end)
        )
        return [row[0] for row in rows]

    def checkpoints(self) -> list[StoredCheckpoint]:
        rows = self._db.execute("SELECT size, note, frontier FROM checkpoints ORDER BY seq")
        return [stored_checkpoint(*row) for row in rows]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        row = self._db.execute(
            "SELECT size, note, frontier FROM checkpoints ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return None if row is None else stored_checkpoint(*row)

    def hotline_items(self, hotline: int, after_sequence: int) -> Iterator[StoredRecord]:
        rows = self._db.execute(
            f"{_RECORD} WHERE hotline = ? AND sequence > ? AND {_TRAFFIC} ORDER BY sequence",
            (hotline, after_sequence),
        )
        for row in rows:
            yield StoredRecord(*row)

    def at_sequence(self, hotline: int, sequence: int) -> StoredRecord | None:
        row = self._db.execute(
            f"{_RECORD} WHERE hotline = ? AND sequence >= ? AND {_TRAFFIC} "
            "ORDER BY sequence LIMIT 1",
            (hotline, sequence),
        ).fetchone()
        return None if row is None or row[3] != sequence else StoredRecord(*row)

    def latest_snapshot(self) -> StoredSnapshot | None:
        try:
            row = self._db.execute(
                "SELECT idx, state FROM snapshots ORDER BY idx DESC LIMIT 1"
            ).fetchone()
        except sqlite3.OperationalError:  # a log written before snapshots were kept
            return None
        return None if row is None else StoredSnapshot(row[0], row[1])

    def snapshot_at(self, index: int) -> StoredSnapshot | None:
        row = self._db.execute("SELECT state FROM snapshots WHERE idx = ?", (index,)).fetchone()
        return None if row is None else StoredSnapshot(index, row[0])

    def message_keys(self, start: int, end: int) -> list[int]:
        rows = self._db.execute(
            "SELECT message_key FROM log WHERE idx >= ? AND idx < ? AND message_key IS NOT NULL",
            (start, end),
        )
        return [row[0] for row in rows]

    def with_message_key(self, key: int) -> list[StoredRecord]:
        rows = self._db.execute(f"{_RECORD} WHERE message_key = ? ORDER BY idx", (key,))
        return [StoredRecord(*row) for row in rows]

    def size(self) -> int:
        (count,) = self._db.execute("SELECT count(*) FROM log").fetchone()
        return int(count)

    def reader(self) -> SqliteBackend:
        return SqliteBackend(self.path, self._durable, create=False)

    def close(self) -> None:
        self._db.close()
