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
import json
import sys
from typing import Any

from hotline.client.cli import recorded, render, replay_modes, replay_view
from hotline.client.cli.options import enum_value, iso_time
from hotline.server.json_mapping import json_object
from hotline.server.replay import Played, Player, Selection
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


def _elapsed(seconds: float) -> str:
    whole = int(max(seconds, 0.0))
    return f"T+{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _line(played: Played) -> str:
    record = played.record
    if record is None:
        return f"{played.index:>8} (not a log record: the stored bytes were altered)"
    kind = render.name(log_pb2.RecordKind, record.kind, "RECORD_KIND_")
    hotline = render.hotline(record.hotline) if record.hotline else "-"
    summary = render.describe_record(record)
    return (
        f"{played.index:>8} {render.record_time(record.recorded_at)} {_elapsed(played.elapsed)} "
        f"{kind:<20} {hotline:<18} {record.actor}{': ' + summary if summary else ''}"
    )


def _json_name(field: str) -> str:
    """The field's name in the protobuf JSON mapping (``stationSession``)."""
    return str(log_pb2.LogRecord.DESCRIPTOR.fields_by_name[field].json_name)


def _json(played: Played) -> str:
    record = played.record
    if record is None:
        document: dict[str, Any] = {"index": played.index, "unreadable": True}
    else:
        payload = record.WhichOneof("payload")
        document = {
            "index": played.index,
            "recorded_at": render.record_time(record.recorded_at),
            "kind": render.name(log_pb2.RecordKind, record.kind, "RECORD_KIND_"),
            "hotline": render.hotline(record.hotline) if record.hotline else None,
            "actor": record.actor,
            "correlation_id": record.correlation_id,
            "payload": {_json_name(payload): json_object(getattr(record, payload))}
            if payload
            else {},
        }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


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


#: Lines held back while the verification runs; past this the replay waits for it.
_HELD_LINES = 100_000


async def _print_lines(
    backend: Backend,
    selection: Selection,
    args: argparse.Namespace,
    verifying: recorded.PendingVerification | None,
) -> int:
    """Prints one line (or JSON object) per record. With ``verifying``, nothing is
    printed before the verification has passed: lines are held back until then (it
    exits, printing nothing, when the log does not verify)."""
    # Only the index window is pushed down to the store; the player applies the rest.
    player = Player(
        backend.read(selection.from_index or 0, selection.to_index),
        speed=args.speed,
        selection=selection,
    )
    write = _json if args.json else _line
    out = sys.stdout
    held: list[str] = []
    try:
        async for played in player:
            line = write(played)
            if verifying is None:
                out.write(line + "\n")
                if args.speed:
                    out.flush()
                continue
            held.append(line)
            if len(held) >= _HELD_LINES or (len(held) % 1024 == 0 and verifying.done()):
                await asyncio.to_thread(verifying.wait)
                verifying = None
                out.write("\n".join(held) + "\n")
                held.clear()
        if verifying is not None:
            await asyncio.to_thread(verifying.wait)
            verifying = None
            out.writelines(line + "\n" for line in held)
    finally:
        if verifying is not None:
            verifying.cancel()
    out.flush()
    return 0
