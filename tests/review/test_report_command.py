"""``hotline report`` as a trainer runs it: HTML, PNG and PDF outputs, verification,
and the errors that say what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from review.report_exercise import Recorded

from hotline.cli import main
from hotline.server.audit import (
    parse_checkpoint,
    parse_note,
    parse_signer_key,
    root_of,
    sign_checkpoint,
)
from hotline.server.storage import open_backend
from hotline.testing.audit_logs import drop_triggers, execute
from hotline.v1 import log_pb2


def report(
    capsys: pytest.CaptureFixture[str], log: Path, output: Path, *options: str, key: bool = True
) -> tuple[int, str]:
    """Runs ``hotline report``; the exit status and what it wrote to standard error."""
    args = ["report", str(log), "-o", str(output), *options]
    if key:
        args += ["--key", str(log.parent / "signing.pub")]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(args)
    _, err = capsys.readouterr()
    code = exited.value.code
    if isinstance(code, str):
        return 1, code
    assert isinstance(code, int)
    return code, err


def test_the_html_report_stands_alone(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path, recorded: Recorded
) -> None:
    output = tmp_path / "report.html"
    code, err = report(capsys, log, output)
    assert code == 0, err
    page = output.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert 'data-verification="verified"' in page
    # Nothing to fetch: no scripts, stylesheets, images or links off the page.
    for forbidden in ("<script", "<link", "<img", "http://", "https://", "url("):
        assert forbidden not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert recorded.escalated in page


def test_a_png_for_briefings(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path, chromium: str
) -> None:
    output = tmp_path / "report.png"
    code, err = report(capsys, log, output, "--chromium", chromium)
    assert code == 0, err
    image = output.read_bytes()
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(image[16:20], "big") == 1280
    assert len(image) > 50_000


def test_a_pdf_for_briefings(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path, chromium: str
) -> None:
    output = tmp_path / "report.pdf"
    code, err = report(capsys, log, output, "--chromium", chromium)
    assert code == 0, err
    document = output.read_bytes()
    assert document.startswith(b"%PDF-")
    assert len(document) > 20_000


def test_without_chromium_the_png_is_refused_with_the_way_out(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path
) -> None:
    output = tmp_path / "report.png"
    code, message = report(capsys, log, output, "--chromium", str(tmp_path / "no-chromium"))
    assert code != 0
    assert "needs Chromium" in message
    assert "apt-get install chromium" in message
    assert not output.exists()


def test_an_unknown_extension_is_refused(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path
) -> None:
    code, message = report(capsys, log, tmp_path / "report.docx")
    assert code != 0
    assert ".html, .png or .pdf" in message


def test_without_verification_the_report_says_so(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path
) -> None:
    output = tmp_path / "report.html"
    code, err = report(capsys, log, output, "--no-verify", key=False)
    assert code == 0, err
    page = output.read_text(encoding="utf-8")
    assert 'data-verification="not-verified"' in page
    assert "Not verified." in page
    assert "Checkpoint root hash" not in page


def test_a_tampered_log_is_refused(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path, recorded: Recorded
) -> None:
    backend = open_backend(str(log), create=False)
    try:
        stored = next(
            s
            for s in backend.read()
            if log_pb2.LogRecord.FromString(s.data).correlation_id == recorded.answered[0]
        )
    finally:
        backend.close()
    drop_triggers(str(log))
    forged = stored.data.replace(b"37S DV 1", b"38S DV 1")
    assert forged != stored.data
    execute(str(log), "UPDATE log SET data = ? WHERE idx = ?", (forged, stored.index))
    output = tmp_path / "report.html"
    code, err = report(capsys, log, output)
    assert code == 1
    assert "hash-mismatch" in err
    assert not output.exists()


def signed_up_to(log: Path, recorded: Recorded, cut: int) -> None:
    """The log as copied from a server still running: its last checkpoint, made with
    the server's key, signs the first ``cut`` records; those after it, none."""
    db = sqlite3.connect(log)
    leaves = [bytes(h) for (h,) in db.execute("SELECT leaf_hash FROM log ORDER BY idx")]
    (note,) = db.execute("SELECT note FROM checkpoints ORDER BY seq DESC LIMIT 1").fetchone()
    db.close()
    origin = parse_checkpoint(parse_note(note).text).origin
    signer = parse_signer_key((recorded.data_dir / "signing.key").read_text().strip())
    drop_triggers(str(log))
    execute(str(log), "DELETE FROM checkpoints")
    execute(
        str(log),
        "INSERT INTO checkpoints (seq, size, note, frontier) VALUES (1, ?, ?, ?)",
        (cut, sign_checkpoint(origin, cut, root_of(leaves[:cut]), signer), b""),
    )


def test_records_no_checkpoint_covers_are_not_said_to_be_verified(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path, recorded: Recorded
) -> None:
    backend = open_backend(str(log), create=False)
    try:
        size = backend.size()
    finally:
        backend.close()
    cut = size * 2 // 3
    signed_up_to(log, recorded, cut)
    output = tmp_path / "report.html"

    code, err = report(capsys, log, output)
    assert code == 1
    assert "unsigned-tail" in err
    assert not output.exists()

    code, err = report(capsys, log, output, "--allow-unsigned-tail")
    assert code == 0, err
    page = output.read_text(encoding="utf-8")
    assert 'data-verification="partly-verified"' in page
    assert "Every record was checked" not in page
    assert f"Records 0\u2013{cut - 1} verified against the signed checkpoint of size {cut}" in page
    assert (
        f"records {cut}\u2013{size - 1} ({size - cut}) are covered by no signed checkpoint" in page
    )
