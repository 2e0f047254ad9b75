"""``hotline replay``: play a recorded exercise back, read-only.

    hotline replay LOG --key PUBKEY [--speed 10] [--from T|N] [--to T|N]
                   [--hotline H] [--party P] [--kind K] [--json]
    hotline replay LOG --no-verify ...

On a terminal (and without ``--json`` or ``--plain``) the replay is a live view, one
panel per hotline, steered with keys: space pause/resume, n step, +/- speed, b or 1-9
bookmarks, q quit (``replay_view``; ``--paused`` starts it paused).

LOG is a SQLite file (a copy is fine; it is opened read-only) or a ``postgresql://``
URL. The whole log is verified against PUBKEY (the server's ``signing.pub``) before
the first record is shown, and a log that does not verify is refused (exit 1) unless
``--no-verify``. The output depends only on the log and the options: the same replay
prints the same bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
from typing import IO, Any, TextIO

from hotline.cli import recorded, replay_modes, replay_shards, replay_view
from hotline.cli.options import enum_value, iso_time
from hotline.server.replay import BackendSource, Player, Selection
from hotline.server.storage import Backend
from hotline.v1 import common_pb2, log_pb2


def add_parser(commands: Any) -> None:
    replay = commands.add_parser(
        "replay",
        help="play a recorded exercise back, read-only",
        description="Shows the records of a log at their original pace scaled by "
        "--speed, after verifying the whole log against the server's key.",
    )
    recorded.add_log_arguments(replay)
    replay.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        help="10 plays ten times faster, 0 as fast as possible (default 1, real time)",
    )
    replay.add_argument(
        "--from",
        dest="start",
        type=_position,
        metavar="T|N",
        help="start at this time (ISO 8601) or record index",
    )
    replay.add_argument(
        "--to",
        dest="end",
        type=_position,
        metavar="T|N",
        help="stop before this time (ISO 8601) or record index",
    )
    replay.add_argument(
        "--hotline", action="append", default=[], help="only this hotline (repeatable)"
    )
    replay.add_argument(
        "--party", action="append", default=[], help="only records by or about this party"
    )
    replay.add_argument(
        "--kind", action="append", default=[], help="only this record kind, e.g. ENVELOPE"
    )
    replay.add_argument("--json", action="store_true", help="one JSON object per record")
    replay_modes.add_arguments(replay)
    replay_view.add_arguments(replay)
    replay.set_defaults(run=run_replay)


def _speed(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        speed = -1.0
    if not 0 <= speed < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected 0 (no waiting) or a positive factor")
    return speed


def _position(text: str) -> int | float:
    """A record index (``120``) as an ``int``, or a time (ISO 8601) as UNIX seconds."""
    if text.isdigit():
        return int(text)
    return iso_time(text, "a record index or an ISO 8601 time (2026-11-21T06:00Z)")


def _selection(args: argparse.Namespace) -> Selection:
    try:
        hotlines = {enum_value(common_pb2.Hotline, "HOTLINE_", h) for h in args.hotline}
        kinds = {enum_value(log_pb2.RecordKind, "RECORD_KIND_", k) for k in args.kind}
    except argparse.ArgumentTypeError as error:
        raise SystemExit(f"hotline replay: {error}") from None
    start, end = args.start, args.end
    return Selection(
        from_index=start if isinstance(start, int) else None,
        to_index=end if isinstance(end, int) else None,
        from_time=start if isinstance(start, float) else None,
        to_time=end if isinstance(end, float) else None,
        hotlines=hotlines,
        parties={p.strip().upper() for p in args.party},
        kinds=kinds,
    )


async def run_replay(args: argparse.Namespace) -> int:
    selection = _selection(args)
    with recorded.opened_log(args, "replay") as backend:
        if args.speed == 0 and not (args.into or args.reevaluate or replay_view.wanted(args)):
            # As fast as possible: the log is verified in a second process meanwhile.
            return await _print_lines(
                backend, selection, args, recorded.start_verification(args, "replay")
            )
        recorded.verification(backend, args, "replay")
        # Re-injection into a sandbox and re-evaluation of the alerts (replay_modes).
        mode = await replay_modes.run(args, backend, selection)
        if mode is not None:
            return mode
        if replay_view.wanted(args):
            return await replay_view.run(backend, selection, args)
        return await _print_lines(backend, selection, args, None)


async def _print_lines(
    backend: Backend,
    selection: Selection,
    args: argparse.Namespace,
    verifying: recorded.PendingVerification | None,
) -> int:
    """Prints one line (or JSON object) per record at its pace, or all at once at speed
    0. With ``verifying``, nothing is printed before the verification has passed (it
    exits, printing nothing, when the log does not verify)."""
    out = sys.stdout
    with contextlib.ExitStack() as stack:
        if verifying is not None:
            stack.callback(verifying.cancel)
        held = stack.enter_context(_HeldOutput(out, verifying))
        if args.speed == 0:
            await _print_at_once(backend, selection, args, held, stack)
        else:
            player = Player(
                BackendSource(backend, selection.to_index), speed=args.speed, selection=selection
            )
            line = replay_shards.line_format(args.json)
            async for played in player:
                held.write(line(played) + "\n")
                out.flush()
        held.release()
    out.flush()
    return 0


async def _print_at_once(
    backend: Backend,
    selection: Selection,
    args: argparse.Namespace,
    held: _HeldOutput,
    stack: contextlib.ExitStack,
) -> None:
    """Speed 0: a long selection is cut into shards, one per core; the first is printed
    here while other processes print the rest (``replay_shards``)."""
    size = backend.size()
    end = size if selection.to_index is None else min(selection.to_index, size)
    start = await replay_shards.first_shown(backend, selection, end)
    if start is None:
        return
    first, origin = start
    (here, *elsewhere) = replay_shards.shards(first, end)
    workers = [
        stack.enter_context(replay_shards.ShardWorker(_shard(args, selection, window, origin)))
        for window in elsewhere
    ]
    shard = _shard(args, selection, here, origin)
    await replay_shards.print_shard(backend, shard, held.write)
    held.release()
    for worker in workers:
        await asyncio.to_thread(worker.copy_to, held.out)


def _shard(
    args: argparse.Namespace, selection: Selection, window: tuple[int, int], origin: float | None
) -> replay_shards.Shard:
    return replay_shards.Shard(
        args.log, replay_shards.narrowed(selection, *window), origin, args.json
    )


class _HeldOutput:
    """Standard output held back while the log is verified: spooled to a temporary file
    until the verification has passed, then copied out."""

    def __init__(self, out: TextIO, verifying: recorded.PendingVerification | None) -> None:
        self.out = out
        self._verifying = verifying
        self._spool: IO[bytes] | None = None

    def __enter__(self) -> _HeldOutput:
        if self._verifying is not None:
            self._spool = tempfile.TemporaryFile()
        return self

    def __exit__(self, *_: object) -> None:
        if self._spool is not None:
            self._spool.close()

    def write(self, text: str) -> None:
        if self._verifying is not None and self._verifying.done():
            self.release()
        if self._spool is not None and self._verifying is not None:
            self._spool.write(text.encode())
        else:
            self.out.write(text)

    def release(self) -> None:
        """Waits for the verification to pass, then prints what was held back."""
        if self._verifying is None or self._spool is None:
            return
        self._verifying.wait()
        self._verifying = None
        self._spool.seek(0)
        replay_shards.copy_text(self._spool, self.out)
