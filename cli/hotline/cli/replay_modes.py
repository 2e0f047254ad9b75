"""The after-action modes of ``hotline replay`` besides showing the log: re-injection
into a sandbox exercise and re-evaluation of the alerts.

    hotline replay LOG --key KEY --into SANDBOX --token-file CONTROL_TOKEN [--speed 10]
                   [--from T|N] [--to T|N] [--hotline H] [--party P] [--json]
    hotline replay LOG --key KEY --reevaluate [--exercise FILE] [--json]

``--into`` plays what the stations sent into a running sandbox server (exercise
control's credential), at the recorded pace scaled by ``--speed``, as new messages
marked as replays of the originals; the sandbox raises its own alerts and deadlines.

``--reevaluate`` recomputes the deconfliction alerts from the recorded position reports,
zone statuses and activity notices with the current engine, configured as the recorded
exercise or by ``--exercise FILE``, and reports each alert as same, added, missing or
changed, then a summary line. It reads the whole log (no filters, no pacing); the same
log and options give the same bytes. Without either option the replay shows the
recorded alerts as they are.

Exit status: 0 when everything matches (re-evaluation) or got in (re-injection); 1 when
the log does not verify or the sandbox cannot be reached; 3 (:data:`DIVERGED`) when the
replay diverges from the recording — the re-evaluated alerts differ, or the sandbox
refused re-injected messages.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from hotline.cli import recorded, render
from hotline.cli.reinject import Reinjected, reinject
from hotline.client import HotlineClient, Refused, Tls, TokenFile, TransportError
from hotline.server.errors import ConfigurationError
from hotline.server.exercise import Exercise, Separation, load_exercise
from hotline.server.replay import Player, Selection
from hotline.server.replay.reevaluate import Comparison, Reevaluation, Verdict, reevaluate
from hotline.server.storage import Backend
from hotline.v1 import acknowledgments_pb2

__all__ = ["DIVERGED", "add_arguments", "run"]

#: Exit status of a replay that diverges from the recording.
DIVERGED = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds ``--into``/``--token`` and ``--reevaluate``/``--exercise`` to ``replay``."""
    into = parser.add_argument_group("re-injection into a sandbox exercise")
    into.add_argument(
        "--into",
        metavar="ADDRESS",
        help="send what the stations sent into the sandbox server at HOST:PORT, as new "
        "messages marked as replays of the originals",
    )
    into.add_argument(
        "--token-file",
        dest="into_token_file",
        default=os.environ.get("HOTLINE_TOKEN_FILE") or None,
        help="file holding the sandbox's exercise-control credential (env HOTLINE_TOKEN_FILE)",
    )
    into.add_argument(
        "--token",
        default=os.environ.get("HOTLINE_TOKEN") or None,
        help="the credential itself (env HOTLINE_TOKEN); prefer --token-file",
    )
    # --key is the log's verifier key here: the TLS options name the sandbox.
    into.add_argument("--into-ca", help="connect to the sandbox with TLS: the exercise CA")
    into.add_argument("--into-cert", help="for mutual TLS: this client's certificate")
    into.add_argument("--into-key", help="and its key")
    again = parser.add_argument_group("re-evaluation of the alerts")
    again.add_argument(
        "--reevaluate",
        action="store_true",
        help="recompute the deconfliction alerts with the current engine and report "
        f"every divergence (exit status {DIVERGED} if any)",
    )
    again.add_argument(
        "--exercise",
        type=Path,
        metavar="FILE",
        help="with --reevaluate: configure the engine from this exercise file instead "
        "of the recorded exercise (e.g. other separation minima)",
    )


def _filtered(args: argparse.Namespace) -> bool:
    return bool(
        args.start is not None or args.end is not None or args.hotline or args.party or args.kind
    )


async def run(args: argparse.Namespace, backend: Backend, selection: Selection) -> int | None:
    """Runs the mode the options ask for on a verified log; None when they ask for
    neither (the plain replay)."""
    if args.into and args.reevaluate:
        raise SystemExit("hotline replay: --into and --reevaluate are separate runs; pick one")
    if args.exercise is not None and not args.reevaluate:
        raise SystemExit("hotline replay: --exercise configures --reevaluate; add it")
    if args.reevaluate:
        if _filtered(args):
            raise SystemExit(
                "hotline replay: --reevaluate reads the whole log; drop --from, --to, "
                "--hotline, --party and --kind"
            )
        return _reevaluation(args, backend)
    if args.into:
        if args.into_token_file:
            args.token = TokenFile(args.into_token_file)()
        if not args.token and not args.into_cert:
            raise SystemExit(
                "hotline replay: --into needs the sandbox's exercise-control credential "
                "(--token-file or HOTLINE_TOKEN_FILE, or --into-cert and --into-key)"
            )
        return await _reinjection(args, backend, selection)
    return None


# ---------------------------------------------------------------------- re-evaluation


def _given_exercise(args: argparse.Namespace) -> Exercise | None:
    if args.exercise is None:
        return None
    try:
        return load_exercise(args.exercise)
    except ConfigurationError as error:
        raise SystemExit(f"hotline replay: {error}") from None


def _reevaluation(args: argparse.Namespace, backend: Backend) -> int:
    exercise = _given_exercise(args)
    outcome = reevaluate(recorded.parsed_records(backend), exercise)
    source = "the recorded exercise" if exercise is None else f"exercise file {args.exercise}"
    out = sys.stdout
    for comparison in outcome.comparisons:
        out.write(_comparison_json(comparison) if args.json else _comparison_line(comparison))
        out.write("\n")
    for refused in outcome.refused:
        if args.json:
            document = {
                "verdict": "refused",
                "index": refused.index,
                "message_id": refused.message_id,
                "reason": refused.reason,
            }
            out.write(json.dumps(document, separators=(",", ":"), ensure_ascii=False) + "\n")
        else:
            out.write(
                f"{'refused':<8} {refused.index:>8} [{refused.message_id}]: {refused.reason}\n"
            )
    out.write(_summary_json(outcome, source) if args.json else _summary_line(outcome, source))
    out.write("\n")
    out.flush()
    return DIVERGED if outcome.diverges else 0


def _kind(comparison: Comparison) -> str:
    return render.name(acknowledgments_pb2.AlertKind, comparison.key.kind, "ALERT_KIND_")


def _comparison_line(comparison: Comparison) -> str:
    key = comparison.key
    where = str(comparison.recorded.index) if comparison.recorded else "new"
    subject = _kind(comparison)
    if key.unit_ids:
        subject += " units " + ",".join(key.unit_ids)
    if key.zone_ids:
        subject += " zones " + ",".join(key.zone_ids)
    cause = f"#{comparison.cause_index} [{key.cause}]" if comparison.cause_index >= 0 else key.cause
    if comparison.verdict is Verdict.CHANGED:
        detail = "; ".join(f"{c.field} {c.recorded} -> {c.recomputed}" for c in comparison.changes)
    else:
        # What was recorded stands unless the alert is new.
        detail = (comparison.recorded or comparison.shown).alert.summary
    return f"{comparison.verdict:<8} {where:>8} {subject} caused by {cause}: {detail}"


def _comparison_json(comparison: Comparison) -> str:
    key = comparison.key
    document: dict[str, Any] = {
        "verdict": str(comparison.verdict),
        "kind": _kind(comparison),
        "unit_ids": list(key.unit_ids),
        "zone_ids": list(key.zone_ids),
        "caused_by": {"index": comparison.cause_index, "message_id": key.cause},
        "recorded": None,
        "recomputed": None,
        "changes": [
            {"field": c.field, "recorded": c.recorded, "recomputed": c.recomputed}
            for c in comparison.changes
        ],
    }
    for side in ("recorded", "recomputed"):
        raised = getattr(comparison, side)
        if raised is not None:
            document[side] = {
                "index": raised.index,
                "hotline": render.hotline(raised.hotline),
                "audience": list(raised.audience),
                "summary": raised.alert.summary,
                "distance_m": raised.alert.distance_m,
                "time_to_cpa_s": raised.alert.time_to_cpa_s,
            }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def _minima(separation: Separation) -> str:
    return (
        f"AIR {separation.air_horizontal_m:g} m horizontal / {separation.air_vertical_m:g} m "
        f"vertical, GROUND {separation.ground_m:g} m, look-ahead {separation.look_ahead_s:g} s"
    )


def _summary_line(outcome: Reevaluation, source: str) -> str:
    counts = ", ".join(f"{outcome.counts[v]} {v}" for v in Verdict)
    verdict = "diverges from the recording" if outcome.diverges else "no divergence"
    return (
        f"re-evaluated {outcome.inputs} recorded inputs with {_minima(outcome.separation)} "
        f"({source}): {counts}, {len(outcome.refused)} refused; {verdict}"
    )


def _summary_json(outcome: Reevaluation, source: str) -> str:
    document = {
        "summary": {
            "inputs": outcome.inputs,
            "configuration": source,
            "minima": _minima(outcome.separation),
            **{str(v): outcome.counts[v] for v in Verdict},
            "refused": len(outcome.refused),
            "diverges": outcome.diverges,
        }
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------------- re-injection


async def _reinjection(args: argparse.Namespace, backend: Backend, selection: Selection) -> int:
    player = Player(
        backend.read(selection.from_index or 0, selection.to_index),
        speed=args.speed,
        selection=selection,
    )
    counts = {"new": 0, "already there": 0, "refused": 0, "skipped": 0}
    out = sys.stdout
    try:
        tls = None
        if args.into_ca or args.into_cert or args.into_key:
            tls = Tls.from_files(args.into_ca, args.into_cert, args.into_key)
        async with HotlineClient(args.into, args.token, tls=tls) as sandbox:
            async for outcome in reinject(player, sandbox):
                counts[_state(outcome)] += 1
                out.write(_reinjected_json(outcome) if args.json else _reinjected_line(outcome))
                out.write("\n")
                out.flush()
    except (Refused, TransportError) as error:
        print(
            f"hotline replay: the sandbox at {args.into} stopped the re-injection ({error}); "
            "running the same command again resumes: what got in is recognised",
            file=sys.stderr,
        )
        return 1
    sent = sum(counts.values())
    tally = ", ".join(f"{n} {state}" for state, n in counts.items())
    if args.json:
        out.write(json.dumps({"summary": {"into": args.into, **counts}}, separators=(",", ":")))
    else:
        out.write(f"re-injected {sent} station messages into {args.into}: {tally}")
    out.write("\n")
    return DIVERGED if counts["refused"] else 0


def _state(outcome: Reinjected) -> str:
    if outcome.skipped:
        return "skipped"
    if outcome.refused:
        return "refused"
    return "already there" if outcome.duplicate else "new"


def _reinjected_line(outcome: Reinjected) -> str:
    body = outcome.body.replace("_", " ")
    head = f"{outcome.index:>8} {outcome.sender:<24} {body:<15} [{outcome.original_id}]"
    if outcome.skipped:
        return f"{head} skipped: {outcome.skipped}"
    if outcome.refused:
        return f"{head} -> [{outcome.message_id}] refused: {outcome.refused}"
    if outcome.duplicate:
        return f"{head} -> [{outcome.message_id}] already in the sandbox"
    recorded_as = f" #{outcome.sequence}" if outcome.sequence else ""
    return f"{head} -> [{outcome.message_id}]{recorded_as}"


def _reinjected_json(outcome: Reinjected) -> str:
    document = {
        "index": outcome.index,
        "sender": outcome.sender,
        "body": outcome.body,
        "replay_of": outcome.original_id,
        "message_id": outcome.message_id,
        "sequence": outcome.sequence,
        "state": _state(outcome),
        "reason": outcome.refused or outcome.skipped,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)
