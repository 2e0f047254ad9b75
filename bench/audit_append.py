"""How fast the log appends records durably, with the audit trail's hashing and signing.

Records (about 200 bytes each, like a serialised log record) go through the real
``RecordLog`` writer thread: group commit (up to 4096 records per transaction), a leaf
hash per record, the Merkle tree extended, a signed checkpoint every 1000 records in the
same transaction. Durability: SQLite in WAL mode with ``synchronous=FULL`` (every commit
fsynced); PostgreSQL with ``synchronous_commit=on`` and ``fsync=on`` (its defaults).
Timed from the first append to the moment everything is committed. Not a pass/fail test.

    python bench/audit_append.py [--records 200000] [--repeat 3] [--no-postgres]

A throwaway PostgreSQL server is started from the local binaries (as the tests do), with
one new database per run.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from testbed import cpu_model

from hotline.server.audit import Signer
from hotline.server.audit.trail import AuditTrail, CheckpointPolicy
from hotline.server.record_log import RecordLog
from hotline.server.storage import StoredRecord, open_backend
from hotline.testing.postgres import start_postgres
from hotline.v1 import common_pb2, log_pb2

ORIGIN = "hotline/bench"
SIGNER = Signer(ORIGIN, bytes(range(32)))
TARGETS = {"SQLite": 50_000, "PostgreSQL": 20_000}


def make_records(count: int) -> list[StoredRecord]:
    records = []
    for index in range(count):
        message = log_pb2.LogRecord(
            index=index,
            kind=log_pb2.RECORD_KIND_ANNOTATION,
            hotline=common_pb2.HOTLINE_AIR_OPERATIONS,
            actor="BLUE/AIR_OPERATIONS",
            correlation_id=f"msg-{index:08d}",
            annotation=log_pb2.Annotation(
                author="trainer", text=f"request deconfliction of grid 32U {index:06d} " * 3
            ),
        )
        message.recorded_at.FromNanoseconds(1_800_000_000_000_000_000 + index * 1000)
        records.append(
            StoredRecord(index, message.kind, message.hotline, 0, message.SerializeToString())
        )
    return records


async def append_all(location: str, records: list[StoredRecord]) -> tuple[float, int]:
    trail = AuditTrail(SIGNER, ORIGIN, CheckpointPolicy(1000, 60.0))
    log = RecordLog(open_backend(location, durable=True), lambda b: None, lambda e: None, trail)
    log.start()
    started = time.perf_counter()
    for stored in records:
        log.append(stored)
    await log.flush()
    elapsed = time.perf_counter() - started
    await log.close()
    return elapsed, trail.signed_size // 1000


def run(name: str, locations: list[str], records: list[StoredRecord]) -> str:
    best = min(asyncio.run(append_all(location, records))[0] for location in locations)
    rate = len(records) / best
    return (
        f"| {name} | {len(records):,} | {best:.3f} s | {rate:,.0f} records/s | {TARGETS[name]:,} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    records = make_records(args.records)
    size = sum(len(r.data) for r in records) / len(records)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = [str(Path(tmp) / f"bench-{n}.sqlite") for n in range(args.repeat)]
        rows.append(run("SQLite", sqlite, records))
    if not args.no_postgres:
        server = start_postgres()
        try:
            urls = [server.create_database(f"bench{n}") for n in range(args.repeat)]
            rows.append(run("PostgreSQL", urls, records))
        finally:
            server.stop()
    print(f"{args.records:,} records of {size:.0f} bytes on average; best of {args.repeat}.")
    print(f"Machine: {cpu_model()}; Python {sys.version.split()[0]}.\n")
    print("| Backend | Records | Time | Rate | Target |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
