"""The station console in a pseudo-terminal, against a real server: what a duty officer
types and sees."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from hotline.testing.harness import (
    AIR,
    GENERALS,
    GROUND,
    Harness,
    ServerProcess,
    expect,
    is_ack,
    is_alert,
)
from hotline.testing.terminal import CTRL_D, ENTER, TAB, UP, TerminalConsole
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    messages_pb2,
    zones_pb2,
)

A = acknowledgments_pb2
Z = zones_pb2
IMMEDIATE = common_pb2.PRIORITY_IMMEDIATE
HOTLINE = [sys.executable, "-m", "hotline.cli"]


def is_text(text: str) -> Callable[[envelope_pb2.Envelope], bool]:
    return lambda e: e.WhichOneof("body") == "text" and e.text.text == text


@pytest.fixture
async def red(server: Harness) -> AsyncIterator[TerminalConsole]:
    async with TerminalConsole.at(server.address, server.token("RED", AIR)) as console:
        await console.expect("connected as RED air operations (RED/AIR_OPERATIONS, primary)")
        yield console


async def test_a_delivery_while_typing_leaves_the_typed_line_intact(
    server: Harness, red: TerminalConsole
) -> None:
    async with server.station("BLUE", AIR) as blue:
        red.type("say partial typing")
        await red.expect("say partial typing")
        sent = await blue.send(messages_pb2.TextMessage(text="Strike at 0600Z"), IMMEDIATE)

        shown = await red.expect(f"<- #{sent.sequence} IMMEDIATE BLUE")
        assert "partial typing<-" not in shown
        # The line being typed is drawn again below the delivery, as it was.
        await red.expect("> say partial typing")
        red.type(" here" + ENTER)
        await red.expect("-> recorded as #")

        said = await expect(blue, is_text("partial typing here"))
        assert said.sender.party == "RED"


async def test_history_and_line_editing_with_the_arrow_keys(
    server: Harness, red: TerminalConsole
) -> None:
    async with server.station("BLUE", AIR) as blue:
        red.enter("say Euphrates line holds")
        await red.expect("-> recorded as #")
        # Up brings the line back; Left moves into it; what is typed goes where the cursor is.
        red.type(UP)
        red.type("\x1b[D" * len("holds") + "still " + ENTER)
        shown = await red.expect("text: Euphrates line still holds")
        assert "^[[" not in shown

        await expect(blue, is_text("Euphrates line holds"))
        await expect(blue, is_text("Euphrates line still holds"))


async def test_answers_by_number_prefix_and_completion(
    server: Harness, red: TerminalConsole
) -> None:
    async with server.station("BLUE", AIR) as blue:
        first = await blue.send(messages_pb2.TextMessage(text="Tanker orbit at FL250"), IMMEDIATE)
        second = await blue.send(
            messages_pb2.TextMessage(text="Flight of four at 0700Z"), IMMEDIATE
        )
        shown = await red.expect(
            f"<- #{second.sequence} IMMEDIATE BLUE [{second.message_id[:8]}] "
            "text: Flight of four at 0700Z   "
            f"(answer: wilco #{second.sequence} | roger #{second.sequence} | "
            f"unable #{second.sequence} REASON)"
        )
        # Ids are shown short, never whole.
        assert first.message_id not in shown
        assert f"[{first.message_id[:8]}]" in shown

        # By the start of its id.
        red.enter(f"roger {first.message_id[:6]}")
        await red.expect(f"-> ROGER for #{first.sequence} recorded as #")
        await expect(blue, is_ack(first.message_id, A.ACK_KIND_ROGER))

        # By completion: the command, then the one message still awaiting an answer.
        red.type("wil" + TAB)
        await red.expect("wilco")
        red.type(" " + TAB)
        await red.expect(f"#{second.sequence}")
        red.type(ENTER)
        await red.expect(f"-> WILCO for #{second.sequence} recorded as #")
        await expect(blue, is_ack(second.message_id, A.ACK_KIND_WILCO))

        # An answer without a reason, or to a message the console never saw, is explained.
        red.enter(f"unable #{second.sequence}")
        await red.expect(f"?? unable needs the reason: 'unable #{second.sequence} REASON'")
        red.enter("roger #999")
        await red.expect("?? no message #999 on this console")


async def test_an_unknown_command_is_named_with_a_suggestion(red: TerminalConsole) -> None:
    red.enter("wilko 1")
    await red.expect(
        "?? unknown command 'wilko' — did you mean 'wilco'? (type 'help' for commands)"
    )
    red.enter("xyzzy")
    await red.expect("?? unknown command 'xyzzy' (type 'help' for commands)")
    # Ctrl-D ends the console.
    red.type(CTRL_D)
    assert await red.ended() == 0


def proposal(zone_id: str, radius_m: float = 5000) -> zones_pb2.ZoneProposal:
    circle = Z.Circle(center=common_pb2.LatLon(latitude=35.29, longitude=40.26), radius_m=radius_m)
    return Z.ZoneProposal(
        zone=Z.Zone(
            zone_id=zone_id,
            name=f"{zone_id} over Khasham",
            kind=Z.ZONE_KIND_RESTRICTED_OPERATIONS_ZONE,
            geometry=Z.Geometry(circle=circle),
            altitude=Z.AltitudeBand(floor_m=0, ceiling_m=9000),
        )
    )


async def test_zone_proposals_accepted_rejected_and_countered(
    server: Harness, red: TerminalConsole
) -> None:
    async with server.station("BLUE", AIR) as blue:
        sent = {}
        for zone_id in ("ROZ-A", "ROZ-B", "ROZ-C"):
            sent[zone_id] = await blue.send(proposal(zone_id), IMMEDIATE)
        number = {zone_id: result.sequence for zone_id, result in sent.items()}
        await red.expect(
            f"<- #{number['ROZ-C']} IMMEDIATE BLUE [{sent['ROZ-C'].message_id[:8]}] "
            "zone proposal ROZ-C: ROZ-C over Khasham   "
            f"(answer: accept #{number['ROZ-C']} | reject #{number['ROZ-C']} REASON | "
            f"counter #{number['ROZ-C']} --circle …)"
        )

        red.enter(f"accept #{number['ROZ-A']}")
        await red.expect(f"-> WILCO for #{number['ROZ-A']} recorded as #")
        red.enter(f"reject #{number['ROZ-B']} too close to our convoy route")
        await red.expect(f"-> UNABLE for #{number['ROZ-B']} recorded as #")
        red.enter(f"counter #{number['ROZ-C']} --circle 35.29,40.26,3000 --ceiling 6000")
        await red.expect(f"-> ROGER for #{number['ROZ-C']} recorded as #")
        red.enter("owed")
        await red.expect("-- nothing owed")

        async with server.control() as control:
            a = (await control.zone("ROZ-A")).zone
            b = (await control.zone("ROZ-B")).zone
            c = (await control.zone("ROZ-C")).zone
        assert a.state in (Z.ZONE_STATE_ACCEPTED, Z.ZONE_STATE_ACTIVE)
        assert b.state == Z.ZONE_STATE_REJECTED
        assert (c.version, c.state, c.proposed_by) == (2, Z.ZONE_STATE_PROPOSED, "RED")
        assert c.geometry.circle.radius_m == 3000
        assert (c.altitude.floor_m, c.altitude.ceiling_m) == (0, 6000)
        unable = await expect(blue, is_ack(sent["ROZ-B"].message_id, A.ACK_KIND_UNABLE))
        assert unable.acknowledgment.reason == "too close to our convoy route"

        # Only a zone proposal takes a zone decision.
        red.enter("say ready")
        said = await red.expect_pattern(r"-> recorded as #(\d+)")
        red.enter(f"accept #{said.group(1)}")
        await red.expect(f"?? #{said.group(1)} is no zone proposal")


async def test_what_is_owed_with_the_time_left(server: Harness, red: TerminalConsole) -> None:
    async with server.station("BLUE", AIR) as blue:
        red.enter("owed")
        await red.expect("-- nothing owed: every message has its answer")
        sent = await blue.send(messages_pb2.TextMessage(text="Convoy on the M4"), IMMEDIATE)
        await red.expect("Convoy on the M4")
        # IMMEDIATE: an answer within 5 minutes (the default policy).
        red.enter("owed")
        await red.expect_pattern(
            rf"   #{sent.sequence} IMMEDIATE BLUE \[{sent.message_id[:8]}\] text: Convoy on the M4 "
            r"— 4m \d\ds left"
        )
        red.enter(f"wilco #{sent.sequence}")
        await red.expect(f"-> WILCO for #{sent.sequence} recorded as #")
        red.enter("owed")
        await red.expect("-- nothing owed")


async def test_a_page_rings_the_bell(short_server: Harness) -> None:
    server = short_server
    async with (
        server.station("BLUE", AIR) as blue,
        TerminalConsole.at(server.address, server.token("RED", AIR, standby=True)) as standby,
    ):
        await standby.expect("connected as RED air operations (RED/AIR_OPERATIONS, standby)")
        sent = await blue.send(messages_pb2.TextMessage(text="Strike at 0600Z"), IMMEDIATE)
        await standby.expect("text: Strike at 0600Z")
        # Nobody answers: the response deadline passes and the standby is paged.
        await expect(blue, is_alert(A.ALERT_KIND_ACK_OVERDUE))
        page = await standby.expect_pattern(r"\x07\x1b\[[0-9;]*m!!! PAGE [^\r\n]*ACK_OVERDUE")
        assert page is not None
        standby.enter(f"wilco #{sent.sequence}")
        await standby.expect(f"-> WILCO for #{sent.sequence} recorded as #")


async def test_an_escalation_stands_out_and_is_answered_where_it_lands(
    short_server: Harness,
) -> None:
    server = short_server
    generals = server.token("RED", GENERALS)
    async with (
        server.station("BLUE", AIR) as blue,
        server.station("RED", AIR) as red,
        TerminalConsole.at(server.address, generals) as general,
    ):
        await general.expect("connected as RED generals (RED/GENERALS, primary)")
        sent = await blue.send(messages_pb2.TextMessage(text="Strike at 0600Z"), IMMEDIATE)
        await expect(red, lambda e: e.message_id == sent.message_id)
        # RED's air operations never answer: the message goes up to the generals.
        copy = await general.expect_pattern(
            r"\x07\x1b\[[0-9;]*m!!! ESCALATED #(\d+) IMMEDIATE [A-Z]+ "
            rf"\(escalated from {sent.message_id[:8]}\) \[[^\]]+\] text: Strike at 0600Z"
        )
        general.enter(f"wilco #{copy.group(1)}")
        await general.expect(f"-> WILCO for #{copy.group(1)} recorded as #")
        # The answer on GENERALS answers the original, and BLUE hears it on its own line.
        await expect(blue, is_ack(sent.message_id, A.ACK_KIND_WILCO))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_no_server_yet_is_said_and_end_of_input_leaves() -> None:
    address = f"127.0.0.1:{_free_port()}"
    async with TerminalConsole.at(address, "any-token") as console:
        await console.expect(f"-- not connected yet: no server at {address} (UNAVAILABLE)")
        console.enter("say anyone there?")
        await console.expect(f"?? not connected yet: no server at {address}; not sent")
        console.type(CTRL_D)
        await console.expect("-- end of input: leaving without having connected")
        assert await console.ended() == 0


async def test_a_lost_connection_is_told_apart_and_resumed(tmp_path: Path) -> None:
    address = f"127.0.0.1:{_free_port()}"
    server = ServerProcess(tmp_path / "data", options=("--listen", address))
    server.start()
    try:
        red_token = _token(tmp_path / "data", "RED")
        async with TerminalConsole.at(address, red_token) as red:
            await red.expect("connected as RED")
            server.kill()
            await red.expect(f"-- session to {address} lost (UNAVAILABLE); reconnecting")
            server.start()
            await red.expect(f"-- session to {address} open again")
            red.enter("say back on the line")
            await red.expect("-> recorded as #")
    finally:
        if server.process is not None and server.process.poll() is None:
            assert server.terminate() == 0


def _token(data: Path, party: str) -> str:
    return subprocess.run(
        [*HOTLINE, "token", "--data-dir", str(data), "--party", party,
         "--hotline", "air_operations"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.strip()  # fmt: skip


async def test_every_kind_can_be_sent_from_the_console(server: Harness) -> None:
    async with (
        server.station("RED", GROUND) as red,
        TerminalConsole.at(server.address, server.token("BLUE", GROUND)) as blue,
    ):
        await blue.expect("connected as BLUE")
        blue.enter(
            "send zone-propose --zone-id NFA-KHASHAM --kind nfa --name 'Conoco plant' "
            "--circle 35.29,40.26,4000 --priority immediate"
        )
        await blue.expect("zone proposal NFA-KHASHAM: Conoco plant")
        proposal = await expect(red, lambda e: e.WhichOneof("body") == "zone_proposal")
        assert proposal.zone_proposal.zone.kind == Z.ZONE_KIND_NO_FIRE_AREA
        assert proposal.priority == IMMEDIATE
        blue.enter("send position --unit B-COY-1 --domain ground --lat 35.30 --lon 40.20")
        await blue.expect("positions: B-COY-1 35.3000,40.2000 0 m")
        blue.enter("send stop 'Cease fire' --priority routine")
        await blue.expect(
            "?? send stop: --priority routine: a stop request is always FLASH; leave --priority out"
        )
        blue.enter("send zone-propose --circle 35.29,40.26,4000")
        await blue.expect("?? send zone-propose: the following arguments are required: --zone-id")


async def test_send_alone_asks_for_each_field(server: Harness) -> None:
    async with (
        server.station("RED", GROUND) as red,
        TerminalConsole.at(server.address, server.token("BLUE", GROUND)) as blue,
    ):
        await blue.expect("connected as BLUE")
        blue.enter("send stop")
        await blue.expect("-- send stop: reason?")
        blue.enter("You are hitting our people at Khasham")
        await blue.expect("-> recorded as #")
        stop = await expect(red, lambda e: e.WhichOneof("body") == "stop_request")
        assert stop.stop_request.reason == "You are hitting our people at Khasham"
        assert stop.priority == common_pb2.PRIORITY_FLASH

        blue.enter("send zone-propose")
        await blue.expect("-- send zone-propose: --zone-id?")
        blue.enter("NFA-CONOCO")
        await blue.expect("-- send zone-propose: area? LAT,LON,RADIUS_M for a circle")
        blue.enter("35.29,40.26,3000")
        await blue.expect("zone proposal NFA-CONOCO: NFA-CONOCO")
        zone = await expect(red, lambda e: e.WhichOneof("body") == "zone_proposal")
        assert zone.zone_proposal.zone.geometry.circle.radius_m == 3000

        # An empty answer sends nothing.
        blue.enter("send incident")
        await blue.expect("-- send incident: description?")
        blue.enter("")
        await blue.expect("?? send cancelled: nothing sent")


async def test_no_server_within_the_time_given_is_an_error() -> None:
    address = f"127.0.0.1:{_free_port()}"
    async with TerminalConsole.at(address, "any-token", "--give-up", "0.5") as console:
        await console.expect(f"?? no server at {address} after ")
        await console.expect("(UNAVAILABLE): giving up")
        assert await console.ended() == 1


async def test_a_credential_the_server_refuses_ends_the_console_at_once(
    server: Harness,
) -> None:
    async with TerminalConsole.at(server.address, "not-a-credential") as console:
        await console.expect(f"?? the server at {server.address} refused: UNAUTHENTICATED")
        assert await console.ended() == 1


async def test_plain_lines_end_with_the_input(server: Harness) -> None:
    process = await asyncio.create_subprocess_exec(
        *HOTLINE, "station", "--address", server.address,
        "--token", server.token("RED", AIR),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, err = await process.communicate(b"wilko 1\nsay over\n")
    lines = out.decode().splitlines()
    assert lines[0] == "connected as RED air operations (RED/AIR_OPERATIONS, primary); " + (
        "type 'help' for commands"
    )
    assert lines[1] == (
        "?? unknown command 'wilko' — did you mean 'wilco'? (type 'help' for commands)"
    )
    assert re.fullmatch(r"-> recorded as #\d+ ROUTINE RED \[[0-9a-f]{8}\] text: over", lines[2])
    assert process.returncode == 0, err.decode()
