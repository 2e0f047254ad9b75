"""What a duty officer types at the console, and what it does.

Each command sends through the station's session (:class:`~hotline.client.StationClient`)
the same messages the one-shot ``hotline send`` commands send; a refusal is printed
and the console goes on.
"""

from __future__ import annotations

import argparse
import difflib
import shlex
import time
from collections.abc import Callable
from typing import NoReturn

from hotline.cli import send
from hotline.cli.console.book import Book, UnknownReference, countdown, is_zone_change
from hotline.cli.console.lines import answer_hint, describe
from hotline.cli.console.prompts import Ask, Cancelled, ask_fields
from hotline.cli.options import add_geometry, geometry, stamp, when
from hotline.client import (
    Body,
    HotlineClient,
    HotlineClientError,
    Refused,
    StationClient,
    envelope,
)
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2, messages_pb2, zones_pb2

A = acknowledgments_pb2
Z = zones_pb2

HELP = """\
commands (a message is named #N as shown, or by the start of its id):
  say TEXT                    send text, ROUTINE; 'priority', 'immediate' or 'flash TEXT'
                              for precedence
  wilco #N | roger #N         answer a message: will comply / received and understood
  unable #N REASON            unable to comply, with the reason
  accept #N                   accept a proposed zone (and WILCO it)
  reject #N REASON            reject a proposed zone (and UNABLE it, with the reason)
  counter #N [--circle LAT,LON,RADIUS_M | --polygon "LAT,LON ..." | --corridor "LAT,LON ..."
             --width M] [--floor M] [--ceiling M] [--from T] [--until T] [--name NAME]
                              propose the zone as this side would accept it (and ROGER
                              the proposal); what is not given is kept from the proposal
  stop REASON                 stop request, always FLASH
  send KIND ...               any message kind, with the options of 'hotline send KIND'
                              ('send --help', 'send KIND --help'); 'send KIND' alone
                              asks for each field
  owed                        what this station still owes an answer to, and the time left
  help                        this text
  quit                        leave (also Ctrl-D, or the end of the input)"""

_TEXT = {
    "say": common_pb2.PRIORITY_ROUTINE,
    "priority": common_pb2.PRIORITY_PRIORITY,
    "immediate": common_pb2.PRIORITY_IMMEDIATE,
    "flash": common_pb2.PRIORITY_FLASH,
}
_ANSWERS = {"wilco": A.ACK_KIND_WILCO, "roger": A.ACK_KIND_ROGER, "unable": A.ACK_KIND_UNABLE}
_DECISIONS = {
    "accept": (Z.ZONE_DECISION_KIND_ACCEPT, A.ACK_KIND_WILCO),
    "reject": (Z.ZONE_DECISION_KIND_REJECT, A.ACK_KIND_UNABLE),
    "counter": (Z.ZONE_DECISION_KIND_COUNTER, A.ACK_KIND_ROGER),
}
#: Every word the console knows, for completion and for "did you mean".
WORDS = (*_TEXT, *_ANSWERS, *_DECISIONS, "stop", "send", "owed", "help", "quit", "exit")


class CommandError(Exception):
    """A command the console cannot carry out as typed; the message says why and how."""


class _Parser(argparse.ArgumentParser):
    """An argument parser that reports a mistake instead of ending the console."""

    def error(self, message: str) -> NoReturn:
        raise CommandError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        # --help has printed its text; the console goes on.
        raise CommandError(message.strip() if message else "")


def _counter_parser() -> _Parser:
    parser = _Parser(prog="counter", add_help=False)
    add_geometry(parser)
    parser.add_argument("--floor", type=float)
    parser.add_argument("--ceiling", type=float)
    parser.add_argument("--from", dest="start", type=when)
    parser.add_argument("--until", type=when)
    parser.add_argument("--name")
    return parser


def _send_parser() -> tuple[_Parser, dict[str, _Parser]]:
    """The parser of ``send KIND ...``, and the parser of each kind."""
    parser = _Parser(prog="send", description="Send one message of any kind.")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    common = _Parser(add_help=False)
    send.add_common_options(common)
    send.add_kinds(kinds, common)
    return parser, kinds.choices


class Commands:
    """Carries out typed lines for one station; ``say`` prints a line for the officer."""

    def __init__(
        self,
        station: StationClient,
        control: HotlineClient,
        book: Book,
        say: Callable[[str], None],
        ask: Ask | None = None,
    ) -> None:
        """``ask`` puts a question to the officer (on a terminal): ``send KIND`` alone
        then asks for the kind's fields; without it such a line is refused."""
        self.station = station
        self.control = control
        self.book = book
        self.say = say
        self.ask = ask
        self._counter = _counter_parser()
        self._send, self._kinds = _send_parser()

    async def run(self, line: str) -> bool:
        """Carries out one typed line; False when the officer leaves."""
        word, _, rest = line.strip().partition(" ")
        word, rest = word.lower(), rest.strip()
        if not word:
            return True
        if word in ("quit", "exit"):
            return False
        try:
            await self._dispatch(word, rest)
        except (CommandError, UnknownReference) as error:
            if str(error):
                self.say(f"?? {error}")
        except Refused as refused:
            self.say(f"?? refused: {refused}")
        except HotlineClientError as error:
            # The session failed for good, or the server cannot be reached for a query.
            self.say(f"?? not done: {error}")
        return True

    async def _dispatch(self, word: str, rest: str) -> None:
        if word in _TEXT:
            if not rest:
                raise CommandError(f"{word} what? type '{word} TEXT'")
            await self._send_body(messages_pb2.TextMessage(text=rest, language="en"), _TEXT[word])
        elif word in _ANSWERS:
            await self._answer(word, rest)
        elif word in _DECISIONS:
            await self._decide(word, rest)
        elif word == "stop":
            if not rest:
                raise CommandError("stop needs the reason: 'stop REASON'")
            await self._send_body(messages_pb2.StopRequest(reason=rest), common_pb2.PRIORITY_FLASH)
        elif word == "send":
            await self._send_kind(rest)
        elif word == "owed":
            self._show_owed()
        elif word == "help":
            self.say(HELP)
        else:
            self.say(unknown(word))

    async def _send_body(
        self, body: Body, priority: common_pb2.Priority.ValueType, message_id: str | None = None
    ) -> envelope_pb2.Envelope:
        message = envelope(self.station.ref, body, priority, message_id)
        result = await self.station.send_envelope(message)
        message.sequence = result.sequence
        self.book.note(message)
        self.say(f"-> recorded as {describe(message, self.book)}")
        return message

    async def _answer(self, word: str, rest: str) -> None:
        reference, _, reason = rest.partition(" ")
        target = self.book.resolve(reference)
        if word == "unable" and not reason.strip():
            raise CommandError(f"unable needs the reason: 'unable {reference} REASON'")
        await self._acknowledge(target, _ANSWERS[word], reason.strip())

    async def _acknowledge(
        self,
        target: envelope_pb2.Envelope | str,
        kind: acknowledgments_pb2.AckKind.ValueType,
        reason: str,
    ) -> None:
        result = await self.station.acknowledge(target, kind, reason)
        answered = target if isinstance(target, str) else target.message_id
        self.book.answered(answered)
        word = acknowledgments_pb2.AckKind.Name(kind).removeprefix("ACK_KIND_")
        self.say(f"-> {word} for {self.book.reference(answered)} recorded as #{result.sequence}")

    async def _decide(self, word: str, rest: str) -> None:
        try:
            words = shlex.split(rest)
        except ValueError as error:
            raise CommandError(f"{word}: {error}") from None
        reference, options = (words[0], words[1:]) if words else ("", [])
        target = self.book.resolve(reference)
        if isinstance(target, str) or not is_zone_change(target):
            raise CommandError(
                f"{reference} is no zone proposal: answer it with wilco, roger or unable"
            )
        proposed = getattr(target, target.WhichOneof("body") or "").zone
        decision_kind, ack_kind = _DECISIONS[word]
        current = (await self.control.zone(proposed.zone_id)).zone
        decision = zones_pb2.ZoneDecision(
            zone_id=current.zone_id, version=current.version, decision=decision_kind
        )
        if word == "reject":
            decision.reason = " ".join(options)
            if not decision.reason:
                raise CommandError(f"reject needs the reason: 'reject {reference} REASON'")
        elif word == "counter":
            decision.counter_proposal.CopyFrom(self._counter_zone(current, options))
        elif options:
            raise CommandError(f"accept takes only the message: 'accept {reference}'")
        await self._send_body(decision, target.priority)
        await self._acknowledge(target, ack_kind, decision.reason)

    def _counter_zone(self, current: zones_pb2.Zone, options: list[str]) -> zones_pb2.Zone:
        args = self._counter.parse_args(options)
        zone = zones_pb2.Zone(
            zone_id=current.zone_id,
            name=args.name or current.name,
            kind=current.kind,
            altitude=current.altitude,
            restricted_domains=current.restricted_domains,
            controlling_authority=current.controlling_authority,
        )
        if args.circle or args.polygon or args.corridor:
            try:
                zone.geometry.CopyFrom(geometry(args))
            except SystemExit as error:
                raise CommandError(f"counter: {error}") from None
        else:
            zone.geometry.CopyFrom(current.geometry)
        if args.floor is not None:
            zone.altitude.floor_m = args.floor
        if args.ceiling is not None:
            zone.altitude.ceiling_m = args.ceiling
        if args.start is not None:
            zone.effective_from.CopyFrom(stamp(args.start))  # type: ignore[arg-type]
        elif current.HasField("effective_from"):
            zone.effective_from.CopyFrom(current.effective_from)
        if args.until is not None:
            zone.effective_until.CopyFrom(stamp(args.until))  # type: ignore[arg-type]
        elif current.HasField("effective_until"):
            zone.effective_until.CopyFrom(current.effective_until)
        return zone

    async def _send_kind(self, rest: str) -> None:
        try:
            words = shlex.split(rest)
        except ValueError as error:
            raise CommandError(f"send: {error}") from None
        if len(words) == 1 and words[0] in self._kinds and self.ask is not None:
            try:
                words += await ask_fields(words[0], self._kinds[words[0]], self.ask)
            except Cancelled:
                raise CommandError("send cancelled: nothing sent") from None
        args = self._send.parse_args(words)
        try:
            body = args.body(args)
            priority = send.priority_of(args, body)
        except (SystemExit, argparse.ArgumentTypeError) as error:
            raise CommandError(f"send {args.kind}: {error}") from None
        await self._send_body(body, priority, args.message_id)

    def _show_owed(self) -> None:
        owed = self.book.owed()
        if not owed:
            self.say("-- nothing owed: every message has its answer")
            return
        now = time.time()
        self.say(f"-- owed: {len(owed)} message(s) await this station's answer")
        for item in owed:
            left = countdown(item.due, now)
            self.say(
                f"   {describe(item.envelope, self.book)} — {left}   ({answer_hint(item.envelope)})"
            )


def unknown(word: str) -> str:
    """``unknown command 'wilko' — did you mean 'wilco'? ...``"""
    close = difflib.get_close_matches(word, WORDS, n=1, cutoff=0.6)
    guess = f" — did you mean '{close[0]}'?" if close else ""
    return f"?? unknown command '{word}'{guess} (type 'help' for commands)"


__all__ = ["HELP", "WORDS", "CommandError", "Commands", "unknown"]
