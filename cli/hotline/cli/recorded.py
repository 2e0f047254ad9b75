"""What the after-action commands (``replay``, ``report``, ``export``) share: the log
argument, opening it read-only, and refusing a log that does not verify.

    LOG --key PUBKEY [--no-verify] [--allow-unsigned-tail]

LOG is a SQLite file (a copy is fine) or a ``postgresql://`` URL; PUBKEY the server's
``<data dir>/signing.pub`` or the key string.
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from google.protobuf.message import DecodeError

from hotline.cli.audit import load_verifier
from hotline.server.audit import VerificationReport, parse_verifier_key
from hotline.server.audit.stored import verify_stored_log
from hotline.server.errors import ConfigurationError
from hotline.server.storage import Backend, open_backend
from hotline.v1 import log_pb2

__all__ = [
    "PendingVerification",
    "add_log_arguments",
    "opened_log",
    "parsed_records",
    "start_verification",
    "verification",
]


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
    report = verify_stored_log(
        backend,
        load_verifier(_key(args, command), f"hotline {command}"),
        allow_unsigned_tail=args.allow_unsigned_tail,
    )
    return _accepted(report, command)


class PendingVerification:
    """The log's verification running in a second process, so that reading and
    rendering the log can go on meanwhile on the other core. Nothing read may be shown
    before :meth:`wait` has returned."""

    def __init__(self, location: str, key: str, allow_unsigned_tail: bool, command: str) -> None:
        self._command = command
        # A fresh interpreter rather than a fork: the parent may hold threads (gRPC).
        self._child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, location, key, "1" if allow_unsigned_tail else ""],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def done(self) -> bool:
        return self._child.poll() is not None

    def wait(self) -> VerificationReport:
        """The report of a log that verifies; exits (status 1, the reason on standard
        error) when it does not, or when the log could not be read."""
        out, err = self._child.communicate()
        if self._child.returncode != 0:
            sys.stderr.write(err.decode(errors="replace"))
            raise SystemExit(f"hotline {self._command}: the log could not be verified")
        # Our own child wrote it: the bytes are trusted.
        report = pickle.loads(out)
        assert isinstance(report, VerificationReport)
        return _accepted(report, self._command)

    def cancel(self) -> None:
        """Stops the verification if it is still running; harmless once waited for."""
        if self._child.returncode is not None:
            return
        if self._child.poll() is None:
            self._child.kill()
        self._child.communicate()


def start_verification(args: argparse.Namespace, command: str) -> PendingVerification | None:
    """Starts verifying the log against ``--key`` in a second process; ``None`` with
    ``--no-verify``. A missing or unreadable key exits at once."""
    if args.no_verify:
        return None
    verifier = load_verifier(_key(args, command), f"hotline {command}")
    return PendingVerification(args.log, verifier.encode(), args.allow_unsigned_tail, command)


_CHILD = "from hotline.cli.recorded import verify_for_parent; verify_for_parent()"


def verify_for_parent() -> None:
    """The child of :class:`PendingVerification`: verifies the log named on its command
    line and writes the pickled report to standard output."""
    location, key, allow_unsigned_tail = sys.argv[1:4]
    backend = open_backend(location, durable=False, create=False)
    try:
        report = verify_stored_log(
            backend, parse_verifier_key(key), allow_unsigned_tail=bool(allow_unsigned_tail)
        )
    finally:
        backend.close()
    sys.stdout.buffer.write(pickle.dumps(report))


def _key(args: argparse.Namespace, command: str) -> str:
    if not args.key:
        print(
            f"hotline {command}: give the server's verifier key with --key (its "
            "<data dir>/signing.pub) to check the log, or --no-verify to read it unchecked",
            file=sys.stderr,
        )
        raise SystemExit(1)
    return str(args.key)


def _accepted(report: VerificationReport, command: str) -> VerificationReport:
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
