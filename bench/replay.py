"""After-action review of a long exercise: replay as fast as possible with the log
verified, the report, and the exports.

* **replay engine**: the log verified (in a second process, as ``hotline replay``
  does) while the player reads, parses, filters and hands over every record — what the
  live view and the gRPC replay service consume — in this process;
* every command timed as the trainer runs it: ``hotline ...`` in a child process,
  output to a file, start-up included.

The log is a signed SQLite log of a busy exercise written by ``exercise_log.py``
(1,000,000 records by default; kept at ``--log`` between runs). Targets (issue: replay
and after-action review): replay at least 100,000 records/s with verification on; the
report in under 60 s. Not a pass/fail test.

    python bench/replay.py [--records 1000000] [--log /tmp/hotline-bench-exercise.db]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from exercise_log import VERIFIER_KEY, exercise_log
from testbed import cpu_model

from hotline.cli import recorded
from hotline.server.replay import Player
from hotline.server.storage import open_backend

HOTLINE = [sys.executable, "-m", "hotline.cli"]
REPLAY_TARGET = 100_000
REPORT_TARGET_S = 60.0


def timed(command: list[str], out: Path) -> float:
    """Seconds the command took, its standard output written to ``out``."""
    started = time.perf_counter()
    with out.open("wb") as sink:
        subprocess.run(command, stdout=sink, check=True)
    return time.perf_counter() - started


async def engine(log: str) -> tuple[float, int]:
    """Seconds to play the whole log at speed 0 with its verification, and the records
    played."""
    options = argparse.Namespace(
        log=log, key=VERIFIER_KEY, no_verify=False, allow_unsigned_tail=False
    )
    started = time.perf_counter()
    verifying = recorded.start_verification(options, "bench")
    assert verifying is not None
    backend = open_backend(log, durable=False, create=False)
    played = 0
    try:
        async for _ in Player(backend.read(0), speed=0):
            played += 1
    finally:
        backend.close()
    report = verifying.wait()
    assert report.records_checked == played
    return time.perf_counter() - started, played


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument(
        "--log", type=Path, default=Path(tempfile.gettempdir()) / "hotline-bench-exercise.db"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    log = str(exercise_log(args.log, args.records))
    written = time.perf_counter() - started
    key = ["--key", VERIFIER_KEY]
    runs: list[tuple[str, list[str], str]] = [
        ("verify (`hotline audit verify`)", ["audit", "verify", log, *key], ""),
        (
            "replay --speed 0, text lines",
            ["replay", log, *key, "--speed", "0", "--plain"],
            "replay",
        ),
        ("replay --speed 0 --json", ["replay", log, *key, "--speed", "0", "--json"], "replay"),
        (
            "replay --speed 0 --hotline GENERALS",
            ["replay", log, *key, "--speed", "0", "--plain", "--hotline", "GENERALS"],
            "replay",
        ),
        ("report -o report.html", ["report", log, *key, "-o", "{dir}/report.html"], "report"),
        (
            "export --format geojson",
            ["export", log, *key, "--format", "geojson", "-o", "{dir}/out.geojson"],
            "",
        ),
        (
            "export --format kml",
            ["export", log, *key, "--format", "kml", "-o", "{dir}/out.kml"],
            "",
        ),
        (
            "export --format csv",
            ["export", log, *key, "--format", "csv", "-o", "{dir}/out.csv"],
            "",
        ),
        (
            "export --format cot",
            ["export", log, *key, "--format", "cot", "-o", "{dir}/out.cot"],
            "",
        ),
        (
            "export --format acmi",
            ["export", log, *key, "--format", "acmi", "-o", "{dir}/out.acmi"],
            "",
        ),
    ]
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; Python {sys.version.split()[0]}")
    print(
        f"log: {args.records:,} records, {os.path.getsize(log) / 1e6:.0f} MB "
        f"(written in {written:.1f} s, or reused)"
    )
    print()
    print("| command | seconds | records/s | target |")
    print("| --- | ---: | ---: | --- |")
    seconds, played = asyncio.run(engine(log))
    rate = played / seconds
    verdict = f"≥ {REPLAY_TARGET:,}/s {'✔' if rate >= REPLAY_TARGET else '✘'}"
    print(
        f"| replay engine, speed 0, verified alongside | {seconds:.1f} | {rate:,.0f} | {verdict} |"
    )
    with tempfile.TemporaryDirectory() as scratch:
        for label, arguments, target in runs:
            command = [*HOTLINE, *(part.replace("{dir}", scratch) for part in arguments)]
            seconds = timed(command, Path(scratch) / "stdout")
            rate = args.records / seconds
            if target == "replay":
                verdict = f"≥ {REPLAY_TARGET:,}/s {'✔' if rate >= REPLAY_TARGET else '✘'}"
            elif target == "report":
                verdict = f"< {REPORT_TARGET_S:.0f} s {'✔' if seconds < REPORT_TARGET_S else '✘'}"
            else:
                verdict = ""
            print(f"| {label} | {seconds:.1f} | {rate:,.0f} | {verdict} |", flush=True)


if __name__ == "__main__":
    main()
