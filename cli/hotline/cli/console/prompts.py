"""``send KIND`` typed alone on a terminal: the console asks for each field the kind
needs, one at a time, and builds the line ``hotline send KIND`` would take."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Awaitable, Callable

#: Asks the officer a question; the line typed in answer, None at the end of the input.
Ask = Callable[[str], Awaitable[str | None]]

_AREA = ("--circle", "--polygon", "--corridor")


class Cancelled(Exception):
    """The officer gave no answer: nothing is sent."""


async def ask_fields(kind: str, parser: argparse.ArgumentParser, ask: Ask) -> list[str]:
    """The arguments of ``send KIND``, each required one asked for in turn (and the
    area, for a kind that covers one). Raises :class:`Cancelled` on an empty answer."""
    words: list[str] = []
    takes_area = False
    # argparse lists a parser's arguments only in this attribute.
    for action in parser._actions:
        if action.dest == "help":
            continue
        if action.option_strings and action.option_strings[0] in _AREA:
            takes_area = True
        if not action.required and action.option_strings:
            continue
        if not action.option_strings and action.nargs is not None:
            continue  # an optional positional, such as a text's text
        label = action.option_strings[0] if action.option_strings else action.dest
        choices = f" ({'/'.join(map(str, action.choices))})" if action.choices else ""
        hint = f" — {action.help}" if action.help else ""
        answer = await _answer(ask, f"-- send {kind}: {label}{choices}{hint}?")
        words += [action.option_strings[0], answer] if action.option_strings else [answer]
    if takes_area:
        answer = await _answer(
            ask,
            f"-- send {kind}: area? LAT,LON,RADIUS_M for a circle, or "
            '--polygon "LAT,LON LAT,LON LAT,LON ..." or --corridor "LAT,LON ..." --width M',
        )
        words += _area(answer)
    return words


async def _answer(ask: Ask, question: str) -> str:
    answer = await ask(question)
    if answer is None or not answer.strip():
        raise Cancelled
    return answer.strip()


def _area(answer: str) -> list[str]:
    if answer.startswith("--"):
        return shlex.split(answer)
    return ["--circle", answer]
