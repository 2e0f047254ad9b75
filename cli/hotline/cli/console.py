"""``hotline station``: a participant's console.

Deliveries and alerts are printed as they arrive; the operator types commands:

    say TEXT            send text (ROUTINE); 'flash TEXT', 'immediate TEXT' for precedence
    wilco N | roger N   answer delivery #N (or a message id)
    unable N REASON     unable to comply, with the reason
    stop REASON         stop request, always FLASH
    quit                leave (also end of input)
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from hotline.cli import render
from hotline.client import Refused, StationClient
from hotline.contract import needs_response
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2, messages_pb2

_PRIORITY = {
    "say": common_pb2.PRIORITY_ROUTINE,
    "text": common_pb2.PRIORITY_ROUTINE,
    "priority": common_pb2.PRIORITY_PRIORITY,
    "immediate": common_pb2.PRIORITY_IMMEDIATE,
    "flash": common_pb2.PRIORITY_FLASH,
}
_ANSWERS = {
    "wilco": acknowledgments_pb2.ACK_KIND_WILCO,
    "roger": acknowledgments_pb2.ACK_KIND_ROGER,
    "unable": acknowledgments_pb2.ACK_KIND_UNABLE,
}


def add_parser(commands: Any, connected: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "station",
        parents=[connected],
        help="a participant's console",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(run=run)


def say(line: str) -> None:
    print(line, flush=True)


class Console:
    def __init__(self, station: StationClient) -> None:
        self.station = station
        self.seen: dict[str, envelope_pb2.Envelope] = {}

    async def show(self) -> None:
        async for delivery in self.station.deliveries():
            self.seen[str(delivery.sequence)] = delivery
            self.seen[delivery.message_id] = delivery
            body = delivery.WhichOneof("body")
            marker = "!!" if body == "alert" else "<-"
            hint = ""
            if needs_response(delivery) and delivery.sender.party:
                hint = f"   (answer: wilco {delivery.sequence} | roger | unable)"
            say(f"{marker} {render.describe(delivery)}{hint}")

    async def obey(self) -> None:
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := (await reader.readline()).decode():
            try:
                if not await self.command(line.strip()):
                    return
            except Refused as refused:
                say(f"?? refused: {refused}")

    async def command(self, line: str) -> bool:
        word, _, rest = line.partition(" ")
        word = word.lower()
        if not word:
            return True
        if word in ("quit", "exit"):
            return False
        if word in _PRIORITY:
            text = messages_pb2.TextMessage(text=rest, language="en")
            result = await self.station.send(text, _PRIORITY[word])
            say(f"-> recorded as #{result.sequence} [{result.message_id}]")
        elif word in _ANSWERS:
            target, _, reason = rest.partition(" ")
            message = self.seen.get(target)
            result = await self.station.acknowledge(message or target, _ANSWERS[word], reason)
            say(f"-> {word.upper()} recorded as #{result.sequence}")
        elif word == "stop":
            result = await self.station.send(messages_pb2.StopRequest(reason=rest))
            say(f"-> STOP REQUEST recorded as #{result.sequence}")
        else:
            say(
                "?? commands: say|immediate|flash TEXT, wilco|roger N, unable N REASON, "
                "stop REASON, quit"
            )
        return True


async def run(args: argparse.Namespace) -> int:
    async with StationClient(args.address, args.token, tls=args.tls) as station:
        assert station.station is not None
        seat = "standby" if station.operator == common_pb2.OPERATOR_STANDBY else "primary"
        say(
            f"connected as {station.station.name} "
            f"({station.ref.party}/{render.hotline(station.ref.hotline)}, {seat}); "
            "type 'help' for commands"
        )
        console = Console(station)
        async with asyncio.TaskGroup() as tasks:
            shown = tasks.create_task(console.show())
            await console.obey()
            shown.cancel()
    return 0
