"""``hotline export`` as a command: same bytes every time, files, refused logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from exports.recording import export, exported

from hotline.server.storage import open_backend
from hotline.testing.audit_logs import drop_triggers, execute

FORMATS = ["geojson", "kml", "csv", "cot", "acmi"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_same_log_exports_to_the_same_bytes_on_stdout_or_in_a_file(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path, fmt: str
) -> None:
    first = exported(capsys, log, fmt, "--perspective", "BLUE")
    assert first
    assert exported(capsys, log, fmt, "--perspective", "BLUE") == first
    target = tmp_path / f"exercise.{fmt}"
    assert exported(capsys, log, fmt, "--perspective", "BLUE", "-o", str(target)) == ""
    assert target.read_bytes() == first.encode()
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def _forge(log: Path, old: bytes, new: bytes) -> None:
    """Changes one stored record in place, as someone with access to the file could."""
    backend = open_backend(str(log), create=False)
    try:
        stored = next(r for r in backend.read() if old in r.data)
    finally:
        backend.close()
    drop_triggers(str(log))
    forged = stored.data.replace(old, new)
    execute(str(log), "UPDATE log SET data = ? WHERE idx = ?", (forged, stored.index))


def test_a_tampered_log_is_refused_and_exported_only_without_verification(
    capsys: pytest.CaptureFixture[str], log: Path, tmp_path: Path
) -> None:
    _forge(log, b"VIPER-01", b"VIPER-09")
    target = tmp_path / "out.geojson"
    code, out, err = export(capsys, log, "geojson", "-o", str(target))
    assert code == 1
    assert out == ""
    assert "does not verify" in err
    assert "--no-verify" in err
    assert not target.exists()

    code, out, err = export(capsys, log, "geojson", "--no-verify", key=False)
    assert code == 0, err
    ids = {f["id"] for f in json.loads(out)["features"]}
    assert "track/BLUE/VIPER-09" in ids


def test_without_the_key_the_log_is_refused(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    code, out, err = export(capsys, log, "csv", key=False)
    assert code == 1
    assert out == ""
    assert "--key" in err


def test_an_unknown_format_is_explained(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    code, _, err = export(capsys, log, "shapefile")
    assert code == 2
    assert "geojson" in err
