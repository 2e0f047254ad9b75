"""Instructions the server executes per routed report, counted by Callgrind.

On a shared 2-core machine, rates and CPU times move by tens of percent from one run to
the next; the number of instructions a piece of work takes moves much less. This runs the
real ``hotline serve`` (SQLite log, fsync on every commit, checks and audit trail on)
under Valgrind's Callgrind with instrumentation off while it starts; after a warm-up it
switches counting on, routes ``--reports`` position reports from BLUE to RED on
GROUND_COMMANDERS through a bare stub, 64 envelopes per stream message (each report
recorded, delivered, and its RECEIPT recorded and delivered back), switches counting
off and reads the counts, thread by thread. With ``--before PATH`` (a checkout of
earlier code) it does the same for that code, in ``--rounds`` rounds whose order
alternates; medians and ranges, and the ratio within each round.

The deconfliction checks run in a process of their own, which Callgrind follows and
counts apart; the time spent waiting is not counted. How the server batches its work
(writes, deliveries) follows timing, and with it the count: two runs of one code differ
by up to some ten per cent, less than rates do on this machine. Compare the codes within
one run, over several rounds.

    .venv/bin/python bench/instructions.py [--reports 3000] [--rounds 3] [--before PATH]
        [--keep DIR]

``--keep`` keeps Callgrind's files for ``callgrind_annotate``.

Needs ``valgrind`` (Debian: ``apt-get install valgrind``). Everything listens on
127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from testbed import (
    BenchError,
    Server,
    Table,
    checkout_env,
    describe_checkout,
    issue_tokens,
    load_average,
    machine,
    raw_stations,
    raw_throughput,
    serve_command,
    server_pids,
    spawn,
    spread,
    write_exercise,
)

#: Reports routed before counting starts (imports, caches, and the first snapshot, at
#: 5,000 records: the one that carries the filter of message ids, which the snapshots
#: of the next 50,000 records name instead of repeating). Count 2,500 reports (5,000
#: records) for one snapshot in each count.
WARMUP = 3_000
BATCH = 64
WINDOW = 4_096
#: Valgrind runs Python some 50 times slower: generous limits, still bounded.
READY_S = 600.0
ROUTE_S = 3_600.0


@dataclass(frozen=True)
class Count:
    """Instructions per report: the server's event loop thread, its other threads, the
    checks process; all of them."""

    main: float
    others: float
    checks: float

    @property
    def total(self) -> float:
        return self.main + self.others + self.checks


def callgrind_totals(directory: Path, server: int) -> tuple[int, int, int]:
    """Instructions of the server's main thread, of its other threads, and of the other
    process (the checks), from the dumps ``callgrind.PID.N-TT`` (thread 01 the main)."""
    dumps = sorted(directory.glob("callgrind.*.*-*"))
    if not dumps:
        raise BenchError("Callgrind wrote no counts")
    main = others = checks = 0
    for dump in dumps:
        total = next(
            (int(line.split()[1]) for line in dump.open() if line.startswith("totals:")), 0
        )
        pid = int(dump.name.split(".")[1])
        if pid != server:
            checks += total
        elif dump.name.endswith("-01"):
            main += total
        else:
            others += total
    return main, others, checks


def copy_counts(directory: Path, keep: Path) -> None:
    """Keeps Callgrind's files of one run (for ``callgrind_annotate``)."""
    keep.mkdir(parents=True, exist_ok=True)
    for dump in directory.glob("callgrind.*"):
        shutil.copy(dump, keep / dump.name)


def control(server: Server, *args: str) -> None:
    """Tells the server and its checks process, both under Callgrind."""
    for pid in server_pids(server):
        subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


async def count(reports: int, checkout: Path | None, keep: Path | None = None) -> Count:
    with tempfile.TemporaryDirectory(prefix="hotline-instructions-") as tmp:
        data_dir = Path(tmp)
        exercise = data_dir / "exercise.toml"
        write_exercise(exercise)
        tokens = await issue_tokens(data_dir, exercise)
        valgrind = [
            "valgrind",
            "--tool=callgrind",
            "--trace-children=yes",
            "--instr-atstart=no",
            "--separate-threads=yes",
            "--dump-line=no",
            f"--callgrind-out-file={data_dir / 'callgrind.%p'}",
        ]
        command = serve_command(data_dir, exercise, "hotline.sqlite", checkout)
        env = checkout_env(checkout) if checkout is not None else None
        async with (
            spawn(
                [*valgrind, *command],
                "hotline: serving on",
                data_dir / "server.log",
                env,
                ready_within=READY_S,
            ) as server,
            raw_stations(server.address, [tokens.ground["BLUE"], tokens.ground["RED"]]) as (
                blue,
                red,
            ),
        ):
            for tag, reported in (("warm", WARMUP), ("counted", reports)):
                if tag == "counted":
                    control(server, "--instr=on")
                await raw_throughput(
                    senders=[blue],
                    receivers=[red],
                    tag=tag,
                    count=reported,
                    batch=BATCH,
                    window=WINDOW,
                    limit=ROUTE_S,
                )
            control(server, "--dump")
            control(server, "--instr=off")
            main, others, checks = callgrind_totals(data_dir, server.pid)
            if keep is not None:
                copy_counts(data_dir, keep)
    return Count(main / reports, others / reports, checks / reports)


def thousands(value: float) -> str:
    return f"{value / 1000:,.0f} k"


async def main_async(args: argparse.Namespace) -> None:
    print(f"Machine: {machine()}; load average {load_average()}", flush=True)
    codes: list[tuple[str, Path | None]] = [("now", None)]
    if args.before is not None:
        codes.append((f"before ({describe_checkout(args.before)})", args.before))
    found: dict[str, list[Count]] = {name: [] for name, _ in codes}
    ratios: list[tuple[float, float]] = []
    for r in range(args.rounds):
        # The order is reversed every other round.
        for name, checkout in codes if r % 2 == 0 else codes[::-1]:
            keep = args.keep / f"{r + 1}-{name.split()[0]}" if args.keep else None
            counted = await count(args.reports, checkout, keep)
            found[name].append(counted)
            print(
                f"  round {r + 1}, {name}: {thousands(counted.main)} / "
                f"{thousands(counted.others)} / {thousands(counted.checks)} / "
                f"{thousands(counted.total)}",
                flush=True,
            )
        if len(codes) == 2:
            now, before = (found[name][-1] for name, _ in codes)
            ratios.append((now.main / before.main, now.total / before.total))
    headers = (
        "Code",
        "Reports, rounds",
        "Event loop thread",
        "Other threads",
        "Checks process",
        "Server and checks",
    )
    table = Table(headers)
    for name, counts in found.items():
        table.add(
            name,
            f"{args.reports:,}, {args.rounds}",
            spread([c.main for c in counts], scale=1e-3, fmt="{:,.0f} k"),
            spread([c.others for c in counts], scale=1e-3, fmt="{:,.0f} k"),
            spread([c.checks for c in counts], scale=1e-3, fmt="{:,.0f} k"),
            spread([c.total for c in counts], scale=1e-3, fmt="{:,.0f} k"),
        )
    print()
    print("Instructions per routed report (the report and its RECEIPT, each recorded and")
    print(f"delivered), {BATCH} envelopes per stream message; median (range) over rounds:")
    print(table.table())
    if ratios:
        loop = spread([m for m, _ in ratios], scale=100, fmt="{:.1f}%")
        whole = spread([t for _, t in ratios], scale=100, fmt="{:.1f}%")
        print(f"\nNow / before, within each round: event loop {loop}, whole server {whole}")
    print(f"Load average at the end: {load_average()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=3_000, help="reports counted")
    parser.add_argument("--before", type=Path, help="a checkout of earlier code to compare")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the order alternating")
    parser.add_argument(
        "--keep", type=Path, help="keep Callgrind's files here, a folder a round and code"
    )
    args = parser.parse_args()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
