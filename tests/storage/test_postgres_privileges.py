"""On PostgreSQL the server can run as a role that may only read and append: it cannot
change a record even after the triggers are gone, nor remove the triggers."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
import pytest

from hotline.server.audit import leaf_hash
from hotline.server.storage import open_backend
from hotline.server.storage.postgres import grant_append_only
from hotline.testing.audit_logs import record
from hotline.testing.harness import running_server
from hotline.testing.postgres import PostgresServer


def test_an_append_only_role_can_write_the_log_and_nothing_else(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    open_backend(postgres_url).close()  # the owner creates the tables
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE ROLE hotline_writer LOGIN")
        conn.execute("DROP TRIGGER log_append_only ON log")  # even without the triggers
    grant_append_only(postgres_url, "hotline_writer")
    database = postgres_url.rsplit("/", 1)[1]
    writer_url = postgres_server.url(database, user="hotline_writer")

    backend = open_backend(writer_url)
    backend.append([record(0)], [leaf_hash(record(0).data)])
    assert [r.index for r in backend.read()] == [0]
    backend.close()
    with psycopg.connect(writer_url, autocommit=True) as conn:
        for statement in (
            "UPDATE log SET data = 'x'",
            "DELETE FROM log",
            "TRUNCATE log",
            "DELETE FROM checkpoints",
            "DROP TRIGGER log_no_truncate ON log",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


async def test_the_server_never_logs_the_log_s_password(
    postgres_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with_password = postgres_url.replace("@", ":s3cret-word@", 1)
    with caplog.at_level(logging.INFO):
        async with running_server(tmp_path / "data", database=with_password):
            pass
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "recovered from postgresql://" in logged
    assert ":***@" in logged
    assert "s3cret-word" not in logged
