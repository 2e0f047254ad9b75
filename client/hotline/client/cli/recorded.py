"""What the after-action commands (``replay``, ``report``, ``export``) share: the log
argument, opening it read-only, and refusing a log that does not verify.

    LOG --key PUBKEY [--no-verify] [--allow-unsigned-tail]

LOG is a SQLite file (a copy is fine) or a ``postgresql://`` URL; PUBKEY the server's
``<data dir>/signing.pub`` or the key string.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from google.protobuf.message import DecodeError

from hotline.client.cli.audit import load_verifier
from hotline.server.audit.stored import verify_stored_log
from hotline.server.audit.verify import VerificationReport
from hotline.server.errors import ConfigurationError
from hotline.server.storage import Backend, open_backend
from hotline.v1 import log_pb2

__all__ = ["add_log_arguments", "opened_log", "parsed_records", "verification"]


def add_log_arguments(parser: Any) -> None:
    parser.add_argument("log", help="SQLite file or postgresql:// URL")
    parser.add_argument("--key", help="verifier key (<data dir>/signing.pub), or the key string")
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="read a log that does not verify, or without the key (it may have been altered)",
    )
    parser.add_argument(
        "--allow-unsigned-tail",
        action="store_true",
        help="accept records after the last checkpoint (a copy of a log still being written)",
    )


@contextmanager
def opened_log(args: argparse.Namespace, command: str) -> Iterator[Backend]:
    """The log named by ``args.log``, opened read-only; exits with a clear message when
    it cannot be opened."""
    try:
        backend = open_backend(args.log, durable=False, create=False)
    except ConfigurationError as error:
        raise SystemExit(f"hotline {command}: {error}") from None
    try:
        yield backend
    finally:
        backend.close()


def verification(
    backend: Backend, args: argparse.Namespace, command: str
) -> VerificationReport | None:
    """Verifies the whole log against ``--key``. Returns the report of a log that
    verifies, ``None`` with ``--no-verify``; exits (status 1, the reason on standard
    error) when the key is missing or the log does not verify."""
    if args.no_verify:
        return None
    if not args.key:
        print(
            f"hotline {command}: give the server's verifier key with --key (its "
            "<data dir>/signing.pub) to check the log, or --no-verify to read it unchecked",
            file=sys.stderr,
        )
        raise SystemExit(1)
    report = verify_stored_log(
        backend,
        load_verifier(args.key, f"hotline {command}"),
        allow_unsigned_tail=args.allow_unsigned_tail,
    )
    if report.ok:
        return report
    print(report.summary(), file=sys.stderr)
    print(
        f"hotline {command}: the log does not verify and is not read "
        "(--no-verify reads it anyway, as evidence of nothing)",
        file=sys.stderr,
    )
    raise SystemExit(1)


def parsed_records(
    backend: Backend, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, log_pb2.LogRecord]]:
    """``(index, record)`` in log order; stored bytes that are not a record (only an
    altered log read with ``--no-verify`` holds them) are skipped."""
    for stored in backend.read(start, end):
        try:
            yield stored.index, log_pb2.LogRecord.FromString(stored.data)
        except DecodeError:
            continue
