"""A log written with the audit trail off (``hotline serve --no-audit``, for benchmarks):
nothing is hashed or signed, the offline verifier refuses it and says why, and a server
with the trail on will not resume it."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest

from hotline.cli import main
from hotline.cli.serve import add_parser, settings_from
from hotline.server.audit import ProblemKind
from hotline.server.audit.stored import verify_stored_log
from hotline.server.audit.trail import AuditTrail
from hotline.server.errors import ConfigurationError
from hotline.server.record_log import RecordLog
from hotline.server.storage import open_backend
from hotline.testing.audit_logs import VERIFIER, record, trail


async def write(location: str, count: int, audit: AuditTrail | None) -> None:
    log = RecordLog(open_backend(location), lambda batch: None, lambda error: None, audit)
    start = sum(1 for _ in log.recover())
    log.start()
    for index in range(start, start + count):
        log.append(record(index))
    await log.flush()
    await log.close()


async def test_with_the_audit_off_nothing_is_hashed_or_signed(location: str) -> None:
    await write(location, 5, None)
    backend = open_backend(location)
    assert backend.leaf_hashes(0, 10) == [b""] * 5
    assert list(backend.checkpoints()) == []
    report = verify_stored_log(backend, VERIFIER)
    backend.close()
    assert not report.ok
    kinds = [p.kind for p in report.problems]
    assert ProblemKind.UNHASHED_RECORDS in kinds
    assert ProblemKind.HASH_MISMATCH not in kinds
    (unhashed,) = (p for p in report.problems if p.kind is ProblemKind.UNHASHED_RECORDS)
    assert unhashed.index == 0
    assert "5 record(s) from record 0 on" in unhashed.message
    assert "--no-audit" in unhashed.message


async def test_the_trail_is_not_turned_back_on_over_unhashed_records(location: str) -> None:
    await write(location, 5, trail())
    await write(location, 3, None)
    log = RecordLog(open_backend(location), lambda batch: None, lambda error: None, trail())
    with pytest.raises(ConfigurationError, match="record 5 of the log was stored with the audit"):
        log.start()
    await log.close()
    backend = open_backend(location)
    report = verify_stored_log(backend, VERIFIER)
    backend.close()
    assert not report.ok
    assert report.verified_size == 5
    (unhashed,) = (p for p in report.problems if p.kind is ProblemKind.UNHASHED_RECORDS)
    assert unhashed.index == 5


def test_hotline_audit_verify_refuses_a_log_written_with_the_audit_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "hotline.sqlite"
    asyncio.run(write(str(database), 3, None))
    key = tmp_path / "signing.pub"
    key.write_text(VERIFIER.encode() + "\n", encoding="ascii")
    with pytest.raises(SystemExit) as refused:
        main(["audit", "verify", str(database), "--key", str(key)])
    assert refused.value.code == 1
    out = capsys.readouterr().out
    assert "error: unhashed-records:" in out
    assert "written with the audit trail off" in out
    assert out.rstrip().splitlines()[-1].startswith("FAILED: ")


def test_hotline_serve_no_audit_turns_the_trail_off() -> None:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    assert settings_from(parser.parse_args(["serve"])).audit
    assert not settings_from(parser.parse_args(["serve", "--no-audit"])).audit
