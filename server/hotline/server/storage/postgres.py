"""The log in PostgreSQL (psycopg 3, synchronous API).

Same tables and semantics as the SQLite backend. Durability: ``synchronous_commit=on``
(the server's default: a commit returns once its WAL is flushed to disk); with
``durable=False`` the session sets it ``off``. Each batch is written with one ``COPY`` in
one transaction.

Append-only is enforced twice: triggers refuse UPDATE, DELETE and TRUNCATE on the records
and the checkpoints, for everyone including the tables' owner; and
:func:`grant_append_only` gives the role the server runs as nothing but SELECT and INSERT,
so that it cannot drop the triggers either. Create the tables as an administrator
(open the backend once as the owner, or run :data:`SCHEMA`), then grant.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql

from hotline.server.errors import ConfigurationError
from hotline.server.storage.backend import (
    StoredCheckpoint,
    StoredEntry,
    StoredRecord,
    StoredSnapshot,
    pack_hashes,
    stored_checkpoint,
)

SCHEMA = """
CREATE TABLE log (
    idx       BIGINT  PRIMARY KEY,
    kind      INTEGER NOT NULL,
    hotline   INTEGER NOT NULL,
    sequence  BIGINT  NOT NULL,
    data      BYTEA   NOT NULL,
    leaf_hash BYTEA   NOT NULL,
    -- An envelope's message_key (hotline.server.message_ids): how a retry finds it.
    message_key BIGINT
);
CREATE INDEX log_hotline_sequence ON log (hotline, sequence) WHERE sequence > 0;
CREATE INDEX log_message_key ON log (message_key) WHERE message_key IS NOT NULL;
CREATE TABLE checkpoints (
    seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    size     BIGINT NOT NULL,
    note     TEXT   NOT NULL,
    frontier BYTEA  NOT NULL
);
CREATE OR REPLACE FUNCTION hotline_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the hotline log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER log_append_only BEFORE UPDATE OR DELETE ON log
    FOR EACH ROW EXECUTE FUNCTION hotline_append_only();
CREATE TRIGGER log_no_truncate BEFORE TRUNCATE ON log
    FOR EACH STATEMENT EXECUTE FUNCTION hotline_append_only();
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION hotline_append_only();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION hotline_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON log, checkpoints FROM PUBLIC;
CREATE TABLE snapshots (
    idx   BIGINT PRIMARY KEY,
    state BYTEA  NOT NULL
);
"""

_RECORD = "SELECT idx, kind, hotline, sequence, data FROM log"
#: Hotline traffic: the condition of the partial index log_hotline_sequence, repeated in
#: the queries it is to serve (the planner uses it only when the query implies it).
_TRAFFIC = "sequence > 0"
_END = 2**63 - 1
# Rows fetched per round trip when streaming a large log.
_ITERSIZE = 10_000


def grant_append_only(url: str, role: str) -> None:
    """Lets ``role`` read and append to the log at ``url`` and nothing else; run it as the
    tables' owner. Raises :class:`ConfigurationError` if the database refuses."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            ident = sql.Identifier(role)
            conn.execute(sql.SQL("REVOKE ALL ON log, checkpoints FROM {}").format(ident))
            conn.execute(sql.SQL("GRANT SELECT, INSERT ON log, checkpoints TO {}").format(ident))
            # Snapshots are no part of the record: only the latest is kept.
            conn.execute(
                sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON snapshots TO {}").format(ident)
            )
    except psycopg.Error as error:
        raise ConfigurationError(f"cannot restrict {role!r} to appends: {error}") from None


class PostgresBackend:
    """A log in a PostgreSQL database."""

    def __init__(self, url: str, durable: bool = True, *, create: bool = True) -> None:
        """Connects to ``url`` and, with ``create``, creates the tables if they are
        missing. Raises :class:`ConfigurationError` if the server cannot be reached, or
        the database holds no hotline log and ``create`` is false or not permitted."""
        self.url = url
        self._durable = durable
        try:
            self._conn = psycopg.connect(url, autocommit=True)
        except psycopg.Error as error:
            raise ConfigurationError(f"cannot connect to the log database: {error}") from None
        try:
            if not durable:
                self._conn.execute("SET synchronous_commit = off")
            row = self._conn.execute(
                "SELECT to_regclass('log'), to_regclass('checkpoints'), "
                "to_regclass('log_message_key')"
            )
            exists = row.fetchone()
            if exists is None or None in exists[:2]:
                if not create:
                    raise ConfigurationError("the database holds no hotline log")
                with self._conn.transaction():
                    self._conn.execute(SCHEMA)
            elif exists[2] is None and create:
                raise ConfigurationError(
                    "the database holds a log of an earlier hotline version; the offline "
                    "tools (audit, replay, export, report) read it, but the server needs "
                    "a new log"
                )
        except psycopg.Error as error:
            self._conn.close()
            raise ConfigurationError(f"the log database is not usable: {error}") from None
        except ConfigurationError:
            self._conn.close()
            raise

    def append(
        self,
        records: Sequence[StoredRecord],
        leaf_hashes: Sequence[bytes],
        checkpoints: Sequence[StoredCheckpoint] = (),
        snapshot: StoredSnapshot | None = None,
    ) -> None:
        if len(records) != len(leaf_hashes):
            raise ValueError("one leaf hash per record")
        conn = self._conn
        with conn.transaction(), conn.cursor() as cursor:
            if records:
                with cursor.copy(
                    "COPY log (idx, kind, hotline, sequence, data, leaf_hash, message_key) "
                    "FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(["int8", "int4", "int4", "int8", "bytea", "bytea", "int8"])
                    for r, h in zip(records, leaf_hashes, strict=True):
                        copy.write_row(
                            (r.index, r.kind, r.hotline, r.sequence, r.data, h, r.message_key)
                        )
            for c in checkpoints:
                cursor.execute(
                    "INSERT INTO checkpoints (size, note, frontier) VALUES (%s, %s, %s)",
                    (c.size, c.note, pack_hashes(c.frontier)),
                )
            if snapshot is not None:
                cursor.execute(
                    "INSERT INTO snapshots (idx, state) VALUES (%s, %s) "
                    "ON CONFLICT (idx) DO UPDATE SET state = EXCLUDED.state",
                    (snapshot.index, snapshot.state),
                )
                cursor.execute(
                    "DELETE FROM snapshots WHERE idx < %s AND idx IS DISTINCT FROM %s",
                    (snapshot.index, snapshot.keeps),
                )

    def _stream(self, query: str, params: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        # A server-side cursor keeps memory flat however long the log is.
        with (
            self._conn.transaction(),
            self._conn.cursor(name="hotline_stream", binary=True) as cursor,
        ):
            cursor.itersize = _ITERSIZE
            cursor.execute(query, params)
            yield from cursor

    def read(self, start: int = 0, end: int | None = None) -> Iterator[StoredRecord]:
        query = f"{_RECORD} WHERE idx >= %s AND idx < %s ORDER BY idx"
        for row in self._stream(query, (start, _END if end is None else end)):
            yield StoredRecord(*row)

    def entries(self, start: int = 0, end: int | None = None) -> Iterator[StoredEntry]:
        query = "SELECT idx, data, leaf_hash FROM log WHERE idx >= %s AND idx < %s ORDER BY idx"
        for idx, data, leaf in self._stream(query, (start, _END if end is None else end)):
            yield idx, bytes(data), bytes(leaf)

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        with self._conn.cursor(binary=True) as cursor:
            cursor.execute(
                "SELECT leaf_hash FROM log WHERE idx >= %s AND idx < %s ORDER BY idx",
                (start, end),
            )
            return [bytes(row[0]) for row in cursor]

    def checkpoints(self) -> list[StoredCheckpoint]:
        rows = self._conn.execute("SELECT size, note, frontier FROM checkpoints ORDER BY seq")
        return [stored_checkpoint(*row) for row in rows]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        row = self._conn.execute(
            "SELECT size, note, frontier FROM checkpoints ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return None if row is None else stored_checkpoint(*row)

    def hotline_items(self, hotline: int, after_sequence: int) -> Iterator[StoredRecord]:
        rows = self._conn.execute(
            f"{_RECORD} WHERE hotline = %s AND sequence > %s AND {_TRAFFIC} ORDER BY sequence",
            (hotline, after_sequence),
        ).fetchall()
        for idx, kind, line, sequence, data in rows:
            yield StoredRecord(idx, kind, line, sequence, bytes(data))

    def at_sequence(self, hotline: int, sequence: int) -> StoredRecord | None:
        row = self._conn.execute(
            f"{_RECORD} WHERE hotline = %s AND sequence >= %s AND {_TRAFFIC} "
            "ORDER BY sequence LIMIT 1",
            (hotline, sequence),
        ).fetchone()
        if row is None or row[3] != sequence:
            return None
        idx, kind, line, seq, data = row
        return StoredRecord(idx, kind, line, seq, bytes(data))

    def latest_snapshot(self) -> StoredSnapshot | None:
        try:
            row = self._conn.execute(
                "SELECT idx, state FROM snapshots ORDER BY idx DESC LIMIT 1"
            ).fetchone()
        except psycopg.errors.UndefinedTable:  # a log written before snapshots were kept
            return None
        return None if row is None else StoredSnapshot(row[0], bytes(row[1]))

    def snapshot_at(self, index: int) -> StoredSnapshot | None:
        row = self._conn.execute("SELECT state FROM snapshots WHERE idx = %s", (index,)).fetchone()
        return None if row is None else StoredSnapshot(index, bytes(row[0]))

    def message_keys(self, start: int, end: int) -> list[int]:
        rows = self._conn.execute(
            "SELECT message_key FROM log WHERE idx >= %s AND idx < %s AND message_key IS NOT NULL",
            (start, end),
        ).fetchall()
        return [int(row[0]) for row in rows]

    def with_message_key(self, key: int) -> list[StoredRecord]:
        rows = self._conn.execute(
            f"{_RECORD} WHERE message_key = %s ORDER BY idx", (key,)
        ).fetchall()
        return [StoredRecord(i, kind, line, seq, bytes(data)) for i, kind, line, seq, data in rows]

    def size(self) -> int:
        row = self._conn.execute("SELECT count(*) FROM log").fetchone()
        return 0 if row is None else int(row[0])

    def reader(self) -> PostgresBackend:
        return PostgresBackend(self.url, self._durable, create=False)

    def close(self) -> None:
        self._conn.close()
