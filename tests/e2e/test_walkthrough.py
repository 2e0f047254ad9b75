"""The README's walkthrough, typed into two consoles in pseudo-terminals: what it shows
is what the consoles print, line for line (message ids aside, which are new each time)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hotline.testing.harness import AIR, Harness
from hotline.testing.terminal import TerminalConsole

README = Path(__file__).resolve().parents[2] / "README.md"
_BLOCK = re.compile(r"```console\n(.*?)```", re.DOTALL)
_WHOSE = re.compile(r"(RED|BLUE)'s console")
#: A message id as shown: it differs from run to run.
_SHOWN_ID = re.compile(r"\\\[[^\]]+\\\]")


@dataclass(frozen=True)
class Block:
    """A console block of the walkthrough and whose console it shows."""

    party: str
    lines: list[str]


def walkthrough() -> list[Block]:
    text = README.read_text()
    section = text[text.index("## A participant's walkthrough") :]
    section = section[: section.index("\n## ", 1)]
    blocks = []
    for match in _BLOCK.finditer(section):
        whose = _WHOSE.findall(section[: match.start()])
        assert whose, f"no console named before {match.group(1)!r}"
        blocks.append(Block(whose[-1], match.group(1).splitlines()))
    return blocks


def printed(line: str) -> str:
    """A pattern for a line the README shows, its message ids left open."""
    return _SHOWN_ID.sub(r"\\[[^]]+\\]", re.escape(line.rstrip()))


def test_the_walkthrough_shows_consoles_of_both_parties() -> None:
    blocks = walkthrough()
    assert {block.party for block in blocks} == {"RED", "BLUE"}
    assert sum(len(block.lines) for block in blocks) >= 8


async def test_the_readme_walkthrough_is_what_the_consoles_print(server: Harness) -> None:
    consoles: dict[str, TerminalConsole] = {}
    try:
        for block in walkthrough():
            for line in block.lines:
                if line.startswith("$ "):
                    token = server.token(block.party, AIR)
                    consoles[block.party] = TerminalConsole.at(server.address, token)
                elif line.startswith("> "):
                    consoles[block.party].enter(line.removeprefix("> "))
                else:
                    await consoles[block.party].expect_pattern(printed(line))
    finally:
        for console in consoles.values():
            await console.__aexit__(None, None, None)
