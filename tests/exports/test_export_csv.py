"""``hotline export --format csv``, read back with ``csv.DictReader``."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from exports.recording import ROUTES, ROZ, exported

from hotline.server.storage import open_backend

COLUMNS = ["index", "time", "kind", "hotline", "actor", "message_id", "body", "summary"]


def size(log: Path) -> int:
    backend = open_backend(str(log), create=False)
    try:
        return backend.size()
    finally:
        backend.close()


def test_one_row_per_record_with_a_stable_header(
    capsys: pytest.CaptureFixture[str], log: Path
) -> None:
    text = exported(capsys, log, "csv")
    assert text.startswith(",".join(COLUMNS) + "\r\n")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == size(log)
    assert [int(r["index"]) for r in rows] == list(range(len(rows)))
    for row in rows:
        assert list(row) == COLUMNS
        dt.datetime.fromisoformat(row["time"].replace("Z", "+00:00"))
    times = [r["time"] for r in rows]
    assert times == sorted(times)
    assert rows[0]["kind"] == "EXERCISE_STARTED"


def test_rows_say_what_happened(capsys: pytest.CaptureFixture[str], log: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(exported(capsys, log, "csv"), newline="")))
    positions = [r for r in rows if r["body"] == "position_report"]
    assert len(positions) == sum(len(route) for route in ROUTES.values())
    fencer = [r for r in positions if "FENCER-11" in r["summary"]]
    # The summary holds a comma: the field is quoted, and read back whole.
    assert fencer[1]["summary"].endswith("FENCER-11 35.3000,40.2200 5000 m")
    assert fencer[1]["actor"] == "RED/AIR_OPERATIONS"
    assert fencer[1]["hotline"] == "AIR_OPERATIONS"
    assert fencer[1]["message_id"]
    (incursion,) = [r for r in rows if "ALERT ZONE_INCURSION:" in r["summary"]]
    assert incursion["body"] == "alert"
    assert incursion["kind"] == "ENVELOPE"
    assert incursion["actor"] == "server"
    proposal = next(r for r in rows if r["body"] == "zone_proposal" and ROZ in r["summary"])
    assert proposal["actor"] == "BLUE/AIR_OPERATIONS"
    connected = [r for r in rows if r["kind"] == "STATION_CONNECTED"]
    assert {r["body"] for r in connected} == {"station_session"}
