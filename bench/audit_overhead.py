"""What the audit trail costs end to end: core routing with and without hashing and signing.

Runs two real ``hotline serve`` processes side by side in the same run, on the same
exercise, tokens and data directory but each with its own SQLite log (fsync on every
commit): one as deployed, with the audit trail on (a leaf hash per record, the Merkle
tree extended, a signed checkpoint every 1000 records), and one with ``--no-audit``
(nothing hashed or signed; such a log cannot be verified and is for this measurement
only). Each is loaded in turn, alternating which goes first, with position reports from
1 sender to 1 station through the raw stub of ``bench/routing.py``; the rate is the best
of 3 runs each. The ratio audit-on / audit-off is the figure of issue 3 (target ≥ 90%).

    .venv/bin/python bench/audit_overhead.py [--quick]

Afterwards the logs are checked: the audited one holds leaf hashes and checkpoints, the
other neither. Every loop is bounded in count and time; everything listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from testbed import (
    FULL,
    HOST,
    QUICK,
    BenchError,
    Config,
    RawStation,
    Report,
    Server,
    hotline_command,
    issue_tokens,
    machine,
    raw_throughput,
    spawn,
    write_exercise,
)

from hotline.server.storage import open_backend

SETTINGS = {"on": (), "off": ("--no-audit",)}


@contextlib.asynccontextmanager
async def pair(address: str, tokens: list[str]) -> AsyncIterator[tuple[RawStation, RawStation]]:
    """BLUE's and RED's GROUND_COMMANDERS sessions on one server."""
    blue, red = RawStation(address, tokens[0]), RawStation(address, tokens[1])
    try:
        await blue.open()
        await red.open()
        yield blue, red
    finally:
        await blue.close()
        await red.close()


def check_logs(data_dir: Path) -> str:
    """Confirms what each server wrote: leaf hashes and checkpoints, or neither."""
    found = []
    for audit in SETTINGS:
        backend = open_backend(str(data_dir / f"audit-{audit}.sqlite"), create=False)
        try:
            size = backend.size()
            hashed = sum(1 for leaf in backend.leaf_hashes(0, size) if leaf)
            checkpoints = sum(1 for _ in backend.checkpoints())
        finally:
            backend.close()
        written = (hashed == size and checkpoints > 0) if audit == "on" else not hashed
        if not written or (audit == "off" and checkpoints):
            raise BenchError(
                f"audit {audit}: {hashed} of {size} records hashed, {checkpoints} checkpoints"
            )
        found.append(f"audit {audit}: {size:,} records, {hashed:,} hashed, {checkpoints} signed")
    return "; ".join(found)


async def main_async(config: Config) -> None:
    report = Report()
    print(f"Machine: {machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        data_dir = Path(tmp)
        exercise = data_dir / "exercise.toml"
        write_exercise(exercise)
        tokens = await issue_tokens(data_dir, exercise)
        ground = [tokens.ground["BLUE"], tokens.ground["RED"]]
        best = dict.fromkeys(SETTINGS, 0.0)
        runs: dict[str, list[float]] = {audit: [] for audit in SETTINGS}
        async with contextlib.AsyncExitStack() as stack:
            servers: dict[str, Server] = {}
            stations: dict[str, tuple[RawStation, RawStation]] = {}
            for audit, options in SETTINGS.items():
                serve_args = [hotline_command(), "serve", "--listen", f"{HOST}:0"]
                serve_args += ["--data-dir", str(data_dir), "--exercise", str(exercise)]
                serve_args += ["--db", str(data_dir / f"audit-{audit}.sqlite"), *options]
                log = data_dir / f"server-{audit}.log"
                servers[audit] = await stack.enter_async_context(
                    spawn(serve_args, "hotline: serving on", log)
                )
                print(f"hotline serve (audit {audit}): pid {servers[audit].pid}", flush=True)
                stations[audit] = await stack.enter_async_context(
                    pair(servers[audit].address, ground)
                )
            for r in range(config.repeats):
                # Alternate which goes first, so that drift on the machine hits both.
                order = list(SETTINGS) if r % 2 == 0 else list(reversed(SETTINGS))
                for audit in order:
                    blue, red = stations[audit]
                    rate = await raw_throughput(
                        senders=[blue],
                        receivers=[red],
                        tag=f"audit-{audit}-{r}",
                        count=config.count,
                        batch=config.batch,
                        window=config.window,
                        limit=config.limit,
                    )
                    runs[audit].append(rate)
                    best[audit] = max(best[audit], rate)
                    print(f"  run {r + 1}, audit {audit}: {rate:,.0f} env/s", flush=True)
        logs = check_logs(data_dir)
    setup = f"1 sender → 1 station, raw stub, {config.batch} env per message"
    for audit in SETTINGS:
        each = ", ".join(f"{rate:,.0f}" for rate in runs[audit])
        report.add(
            f"routing, audit {audit}",
            setup,
            f"{best[audit]:,.0f} env/s (runs: {each})",
        )
    ratio = best["on"] / best["off"]
    mark = "✔" if ratio >= 0.9 else "✘"
    report.add("audit overhead", "best audit-on / best audit-off", f"{ratio:.1%}", f"≥ 90 % {mark}")
    print()
    print(f"Machine: {machine()}")
    print(f"Best of {config.repeats} runs of {config.count:,} position reports per setting.")
    print(f"Logs: {logs}.")
    print()
    print(report.table())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke test")
    args = parser.parse_args()
    try:
        asyncio.run(main_async(QUICK if args.quick else FULL))
    except BenchError as error:
        raise SystemExit(f"audit_overhead: {error}") from None


if __name__ == "__main__":
    main()
