"""How fast a copy of the audit log can be verified offline.

Builds synthetic records (about 200 bytes each, like a serialised log record) in memory,
signs one checkpoint over all of them, then times:

* recomputing the Merkle root from the records;
* ``verify_log``: every record's index and leaf, the tree, and the checkpoint signature;
* the same with a stored leaf hash next to each record;
* inclusion and consistency proofs over the whole log.

Prints a Markdown table with the machine it ran on. Not a pass/fail test.

    python bench/audit_verify.py [--records 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

from testbed import cpu_model

from hotline.server.audit import (
    Signer,
    SubtreeHasher,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_of,
    sign_checkpoint,
    verify_consistency,
    verify_inclusion,
    verify_log,
)

ORIGIN = "hotline.example/bench"
TARGET_PER_SECOND = 200_000


def make_records(count: int) -> list[bytes]:
    """Records shaped like the server's: index, time, kind, hotline, actor, payload."""
    filler = os.urandom(8192).hex()
    return [
        (
            b'{"index":%d,"time":"2025-11-21T%02d:%02d:%02d.%06dZ","kind":"message.accepted",'
            b'"hotline":"NORTH-SOUTH","actor":"station-%d","payload":"%s"}'
            % (
                i,
                (i // 3_600_000) % 24,
                (i // 60_000) % 60,
                (i // 1000) % 60,
                i % 1_000_000,
                i % 40,
                filler[i % 8000 : i % 8000 + 56].encode(),
            )
        )
        for i in range(count)
    ]


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The shortest of ``repeat`` runs, in seconds: the one least disturbed by the rest of
    the machine."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    count: int = args.records
    repeat: int = args.repeat

    records = make_records(count)
    mean_size = statistics.fmean(len(r) for r in records[:10_000])
    entries = list(enumerate(records))
    leaves = [leaf_hash(r) for r in records]
    entries_with_hashes = [(i, r, leaves[i]) for i, r in enumerate(records)]
    root = root_of(leaves)
    signer = Signer(ORIGIN, bytes(range(32)))
    checkpoint = sign_checkpoint(ORIGIN, count, root, signer)
    verifier = signer.verifier

    def recompute() -> None:
        if root_of(leaf_hash(r) for r in records) != root:
            raise RuntimeError("the recomputed root differs")

    def verify() -> None:
        report = verify_log(entries, [checkpoint], verifier)
        if report.verified_size != count:
            raise RuntimeError(report.summary())

    def verify_with_hashes() -> None:
        report = verify_log(entries_with_hashes, [checkpoint], verifier)
        if report.verified_size != count:
            raise RuntimeError(report.summary())

    rows: list[tuple[str, float, str]] = []
    for name, run in [
        ("Merkle root from the records", recompute),
        ("verify_log, 1 signed checkpoint", verify),
        ("verify_log, with stored leaf hashes", verify_with_hashes),
    ]:
        seconds = best_of(repeat, run)
        rows.append((name, seconds, f"{count / seconds:,.0f} records/s"))

    hasher = SubtreeHasher(leaves)
    index = count * 2 // 3
    cold = best_of(1, lambda: inclusion_proof(hasher, index, count))
    proof = inclusion_proof(hasher, index, count)
    warm = best_of(repeat, lambda: inclusion_proof(hasher, index + 1, count))
    check = best_of(repeat, lambda: verify_inclusion(leaves[index], index, count, proof, root))
    rows.append(("inclusion proof, first (reads every leaf)", cold, f"{len(proof)} hashes"))
    rows.append(("inclusion proof, next (cached subtrees)", warm, ""))
    rows.append(("inclusion proof, verify", check, ""))
    old = count // 2 + 1
    old_root = root_of(leaves[:old])
    fresh = SubtreeHasher(leaves)
    cons = best_of(1, lambda: consistency_proof(fresh, old, count))
    cproof = consistency_proof(fresh, old, count)
    ccheck = best_of(repeat, lambda: verify_consistency(old, count, old_root, root, cproof))
    rows.append((f"consistency proof {old} → {count}, first", cons, f"{len(cproof)} hashes"))
    rows.append(("consistency proof, verify", ccheck, ""))

    print(f"Machine: {cpu_model()}, {os.cpu_count()} cores, {platform.system()}")
    print(
        f"Python: {platform.python_implementation()} {platform.python_version()}; "
        f"{count:,} records of {mean_size:.0f} bytes on average; best of {repeat}"
    )
    print()
    print("| Operation | Time | Rate |")
    print("| --- | ---: | ---: |")
    for name, seconds, rate in rows:
        shown = f"{seconds:.3f} s" if seconds >= 0.01 else f"{seconds * 1e6:,.0f} µs"
        print(f"| {name} | {shown} | {rate} |")
    verify_rate = count / rows[1][1]
    verdict = "meets" if verify_rate >= TARGET_PER_SECOND else "MISSES"
    print()
    print(f"verify_log {verdict} the target of {TARGET_PER_SECOND:,} records/s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
