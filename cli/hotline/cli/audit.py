"""``hotline audit``: check a log offline, export and check one record's proof, read it.

    hotline audit verify LOG --key PUBKEY [--checkpoint FILE] [--allow-unsigned-tail]
    hotline audit export LOG --index N [--output FILE]
    hotline audit verify-proof FILE --key PUBKEY
    hotline audit show LOG [--hotline H] [--party P] [--kind K] [--since T] [--until T] [--json]

LOG is a SQLite file (a copy is fine; it is opened read-only) or a ``postgresql://``
URL. PUBKEY is the server's verifier key (``<data dir>/signing.pub``), as a file or as
the key string. ``verify`` and ``verify-proof`` exit 0 only if everything checks out;
``verify`` exits 1 naming every problem, the most fundamental first (the key and the
checkpoints, then the records), and ends with which records are proven, against which
checkpoint, and which (an allowed unsigned tail) no checkpoint covers.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hotline.cli import render
from hotline.cli.options import enum_value, when
from hotline.contract import seconds
from hotline.server.audit import AuditError, Verifier, parse_verifier_key, verify_proof_bundle
from hotline.server.audit.stored import export_stored_proof, verify_stored_log
from hotline.server.errors import ConfigurationError
from hotline.server.json_mapping import record_object
from hotline.server.replay import parties
from hotline.server.storage import Backend, open_backend
from hotline.v1 import common_pb2, log_pb2

#: Exit status when the log or the proof does not verify (2 is a usage error).
FAILED = 1


def add_parser(commands: Any) -> None:
    audit = commands.add_parser(
        "audit",
        help="verify, export and read the audit log offline",
        description="Offline tools for the tamper-evident log. They need no server.",
    )
    tools = audit.add_subparsers(dest="audit_command", required=True, metavar="TOOL")

    verify = tools.add_parser(
        "verify",
        help="recompute every record, the tree and every checkpoint",
        description="Checks every record's hash, the Merkle tree against every signed "
        "checkpoint, gaps and order, and that every message needing an answer got a "
        "response, a recorded missed deadline or an escalation. Exits 1 on any problem.",
    )
    verify.add_argument("log", help="SQLite file or postgresql:// URL")
    verify.add_argument("--key", required=True, help="verifier key, or a file holding it")
    verify.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="a signed checkpoint kept apart from the log (repeatable)",
    )
    verify.add_argument(
        "--allow-unsigned-tail",
        action="store_true",
        help="accept records after the last checkpoint (a copy of a log still being "
        "written, or of a server that crashed) as a warning",
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.set_defaults(run=run_verify)

    export = tools.add_parser(
        "export",
        help="write one record with its inclusion proof and checkpoint",
        description="Writes a JSON bundle: the record, its inclusion proof and the latest "
        "signed checkpoint. 'hotline audit verify-proof' checks it without the log.",
    )
    export.add_argument("log", help="SQLite file or postgresql:// URL")
    export.add_argument("--index", type=int, required=True, help="the record's index")
    export.add_argument("--output", "-o", type=Path, help="file to write (default stdout)")
    export.set_defaults(run=run_export)

    proof = tools.add_parser(
        "verify-proof",
        help="check an exported record with only the verifier key",
    )
    proof.add_argument("bundle", type=Path, help="file written by 'hotline audit export'")
    proof.add_argument("--key", required=True, help="verifier key, or a file holding it")
    proof.set_defaults(run=run_verify_proof)

    show = tools.add_parser("show", help="list records readably, with filters")
    show.add_argument("log", help="SQLite file or postgresql:// URL")
    show.add_argument("--hotline", help="only this hotline, e.g. AIR_OPERATIONS")
    show.add_argument("--party", help="only records sent by, or concerning, this party")
    show.add_argument("--kind", help="only this record kind, e.g. ENVELOPE, DEADLINE_MISSED")
    show.add_argument("--since", type=when, help="from this time (ISO 8601)")
    show.add_argument("--until", type=when, help="before this time (ISO 8601)")
    show.add_argument("--json", action="store_true", help="one JSON object per line")
    show.set_defaults(run=run_show)


def load_verifier(text: str, command: str = "hotline audit") -> Verifier:
    """The verifier key given as ``--key``: the key itself, or a file holding it."""
    path = Path(text)
    try:
        if path.is_file():
            text = path.read_text(encoding="utf-8").strip()
        return parse_verifier_key(text)
    except (OSError, UnicodeDecodeError) as error:
        raise SystemExit(f"{command}: --key: {path}: {error}") from None
    except AuditError as error:
        raise SystemExit(f"{command}: --key: {error.message}") from None


@contextmanager
def _opened(location: str) -> Iterator[Backend]:
    try:
        backend = open_backend(location, durable=False, create=False)
    except ConfigurationError as error:
        raise SystemExit(f"hotline audit: {error}") from None
    try:
        yield backend
    finally:
        backend.close()


async def run_verify(args: argparse.Namespace) -> int:
    verifier = load_verifier(args.key)
    try:
        extra = [p.read_text(encoding="utf-8") for p in args.checkpoint]
    except (OSError, UnicodeDecodeError) as error:
        raise SystemExit(f"hotline audit: --checkpoint: {error}") from None
    with _opened(args.log) as backend:
        report = verify_stored_log(
            backend, verifier, checkpoints=extra, allow_unsigned_tail=args.allow_unsigned_tail
        )
    if args.json:
        unsigned = report.unsigned
        document = {
            "ok": report.ok,
            "records_checked": report.records_checked,
            "checkpoints_checked": report.checkpoints_checked,
            "verified_size": report.verified_size,
            "verified_checkpoint": report.verified_checkpoint,
            "unsigned": None if unsigned is None else {"index": unsigned[0], "end": unsigned[1]},
            "origin": report.origin,
            "problems": [
                {
                    "severity": p.severity.value,
                    "kind": p.kind.value,
                    "message": p.message,
                    "index": p.index,
                    "end": p.end,
                    "checkpoint": p.checkpoint,
                }
                for p in report.problems
            ],
            "problems_omitted": report.problems_omitted,
        }
        print(json.dumps(document, indent=2))
    else:
        print(report.summary())
    return 0 if report.ok else FAILED


async def run_export(args: argparse.Namespace) -> int:
    with _opened(args.log) as backend:
        try:
            bundle = export_stored_proof(backend, args.index)
        except AuditError as error:
            raise SystemExit(f"hotline audit export: {error.message}") from None
    if args.output is None:
        sys.stdout.write(bundle)
    else:
        args.output.write_text(bundle, encoding="utf-8")
    return 0


async def run_verify_proof(args: argparse.Namespace) -> int:
    verifier = load_verifier(args.key)
    try:
        bundle = args.bundle.read_bytes()
    except OSError as error:
        raise SystemExit(f"hotline audit verify-proof: {error}") from None
    try:
        proven = verify_proof_bundle(bundle, verifier)
    except AuditError as error:
        print(f"FAILED: {type(error).__name__}: {error.message}")
        return FAILED
    record = log_pb2.LogRecord.FromString(proven.data)
    print(
        f"OK: record {proven.index} is in the log {proven.checkpoint.origin!r} of "
        f"{proven.checkpoint.size} records signed by {verifier.name}\n{_line(record)}"
    )
    return 0


def _line(record: log_pb2.LogRecord) -> str:
    kind = render.name(log_pb2.RecordKind, record.kind, "RECORD_KIND_")
    line = render.hotline(record.hotline) if record.hotline else "-"
    summary = render.describe_record(record)
    return (
        f"{record.index:>8} {render.record_time(record.recorded_at)} {kind:<20} {line:<18} "
        f"{record.actor}{': ' + summary if summary else ''}"
    )


async def run_show(args: argparse.Namespace) -> int:
    try:
        hotline = enum_value(common_pb2.Hotline, "HOTLINE_", args.hotline) if args.hotline else None
        kind = enum_value(log_pb2.RecordKind, "RECORD_KIND_", args.kind) if args.kind else None
    except argparse.ArgumentTypeError as error:
        raise SystemExit(f"hotline audit show: {error}") from None
    with _opened(args.log) as backend:
        for stored in backend.read():
            if (hotline is not None and stored.hotline != hotline) or (
                kind is not None and stored.kind != kind
            ):
                continue
            record = log_pb2.LogRecord.FromString(stored.data)
            at = seconds(record.recorded_at)
            if (args.since is not None and at < args.since) or (
                args.until is not None and at >= args.until
            ):
                continue
            if args.party and args.party not in parties(record):
                continue
            if args.json:
                print(json.dumps(record_object(record), separators=(",", ":"), ensure_ascii=False))
            else:
                print(_line(record))
    return 0
