"""Every ``hotline send`` kind, typed into a real ``hotline`` process against a real
server: what the command prints, what the other station receives and what the log holds.

The server runs in the test's event loop (see ``harness.running_server``); the command
is a child process, awaited so that the server goes on serving meanwhile.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from hotline.cli import main
from hotline.client import StationClient
from hotline.server.storage import open_backend
from hotline.testing.harness import AIR, GROUND, Harness, expect
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    log_pb2,
    messages_pb2,
    zones_pb2,
)

A = acknowledgments_pb2
Z = zones_pb2
Envelope = envelope_pb2.Envelope
HOTLINE = [sys.executable, "-m", "hotline.cli"]
KHASHAM = "35.29,40.26"
_RECORDED = re.compile(
    r"recorded on (?P<hotline>\w+) as #(?P<sequence>\d+), message id (?P<id>\S+)"
    r"(?P<retry> \(already recorded: this was a retry\))?"
)


@dataclass(frozen=True)
class Sent:
    """What ``hotline send`` printed, read back."""

    hotline: str
    sequence: int
    message_id: str
    retry: bool


async def run(server: Harness, token: str, *args: str) -> tuple[int, str, str]:
    """``hotline send ARGS`` as the holder of ``token``: exit status, output, errors."""
    process = await asyncio.create_subprocess_exec(
        *HOTLINE, "send", *args, "--address", server.address, "--token", token,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode().strip(), err.decode().strip()


async def send(
    server: Harness, party: str, hotline: common_pb2.Hotline.ValueType, *args: str
) -> Sent:
    """Runs ``hotline send`` as ``party``'s station; it must succeed and say so."""
    code, out, err = await run(server, server.token(party, hotline), *args)
    assert code == 0, err
    printed = _RECORDED.fullmatch(out)
    assert printed is not None, out
    return Sent(
        printed["hotline"], int(printed["sequence"]), printed["id"], printed["retry"] is not None
    )


def stored(server: Harness, message_id: str) -> list[Envelope]:
    """The envelopes the server recorded with this message id, read from its log."""
    backend = open_backend(str(server.data_dir / "hotline.sqlite"), durable=False, create=False)
    try:
        records = [log_pb2.LogRecord.FromString(s.data) for s in backend.read()]
    finally:
        backend.close()
    return [
        r.envelope
        for r in records
        if r.kind == log_pb2.RECORD_KIND_ENVELOPE and r.envelope.message_id == message_id
    ]


def is_message(message_id: str) -> Callable[[Envelope], bool]:
    return lambda envelope: envelope.message_id == message_id


async def received(server: Harness, station: StationClient, sent: Sent, body: str) -> Envelope:
    """The other station's copy of what was sent, checked against what the command
    printed and what the log holds."""
    delivery = await expect(station, is_message(sent.message_id))
    assert delivery.WhichOneof("body") == body
    assert delivery.sequence == sent.sequence
    assert common_pb2.Hotline.Name(delivery.hotline) == f"HOTLINE_{sent.hotline}"
    [record] = stored(server, sent.message_id)
    assert record == delivery
    return delivery


# ---------------------------------------------------------------------- messages


async def test_text_with_its_translation_and_priority(server: Harness) -> None:
    async with server.station("RED", AIR) as red:
        sent = await send(
            server, "BLUE", AIR, "text", "Strike package over Deir Ezzor at 0600Z",
            "--priority", "immediate", "--translation", "Frappe sur Deir ez-Zor à 06:00Z",
        )  # fmt: skip
        assert (sent.hotline, sent.retry) == ("AIR_OPERATIONS", False)
        delivery = await received(server, red, sent, "text")
    assert delivery.sender == common_pb2.StationRef(party="BLUE", hotline=AIR)
    assert delivery.priority == common_pb2.PRIORITY_IMMEDIATE
    assert delivery.text.text == "Strike package over Deir Ezzor at 0600Z"
    assert delivery.text.language == "en"
    assert delivery.text.translation == "Frappe sur Deir ez-Zor à 06:00Z"


async def test_a_code_word_under_a_chosen_id_is_recorded_once(server: Harness) -> None:
    code_word = ("text", "--code-word", "EUPHRATES", "--code-number", "7", "--message-id")
    async with server.station("RED", AIR) as red:
        sent = await send(server, "BLUE", AIR, *code_word, "blue-cw-0001")
        assert sent.message_id == "blue-cw-0001"
        delivery = await received(server, red, sent, "text")
        assert (delivery.text.code_word, delivery.text.code_number) == ("EUPHRATES", 7)

        again = await send(server, "BLUE", AIR, *code_word, "blue-cw-0001")
    assert again == Sent("AIR_OPERATIONS", sent.sequence, "blue-cw-0001", retry=True)
    assert len(stored(server, "blue-cw-0001")) == 1


async def test_position(server: Harness) -> None:
    async with server.station("RED", GROUND) as red:
        sent = await send(
            server, "BLUE", GROUND, "position", "--unit", "B-COY-1", "--domain", "ground",
            "--lat", "35.30", "--lon", "40.20", "--course", "90", "--speed", "4.5",
        )  # fmt: skip
        assert sent.hotline == "GROUND_COMMANDERS"
        delivery = await received(server, red, sent, "position_report")
    [unit] = delivery.position_report.positions
    assert (unit.unit_id, unit.callsign, unit.domain) == (
        "B-COY-1",
        "B-COY-1",
        common_pb2.DOMAIN_GROUND,
    )
    assert (unit.latitude, unit.longitude) == (35.30, 40.20)
    assert (unit.course_deg, unit.speed_mps) == (90.0, 4.5)


async def test_notice(server: Harness) -> None:
    async with server.station("RED", AIR) as red:
        before = time.time()
        sent = await send(
            server, "BLUE", AIR, "notice", "--activity", "strike", "--start", "+10m",
            "--end", "+40m", "--circle", f"{KHASHAM},3000", "--description", "Conoco field",
            "--priority", "priority",
        )  # fmt: skip
        delivery = await received(server, red, sent, "activity_notice")
    notice = delivery.activity_notice
    assert notice.activity == messages_pb2.ACTIVITY_TYPE_STRIKE
    assert notice.description == "Conoco field"
    assert notice.area.circle.radius_m == 3000
    assert (notice.area.circle.center.latitude, notice.area.circle.center.longitude) == (
        35.29,
        40.26,
    )
    # "+10m" and "+40m" are read when the command runs: ten minutes on, a 30-minute window.
    assert notice.window_start.seconds >= before + 600 - 1
    assert notice.window_end.seconds - notice.window_start.seconds in range(1799, 1802)
    assert delivery.priority == common_pb2.PRIORITY_PRIORITY


async def test_stop_goes_flash(server: Harness) -> None:
    async with server.station("RED", GROUND) as red:
        sent = await send(server, "BLUE", GROUND, "stop", "You are hitting our people at Khasham")
        delivery = await received(server, red, sent, "stop_request")
    assert delivery.stop_request.reason == "You are hitting our people at Khasham"
    assert delivery.priority == common_pb2.PRIORITY_FLASH


async def test_a_stop_request_at_another_priority_is_refused_not_upgraded(server: Harness) -> None:
    token = server.token("BLUE", GROUND)
    code, out, err = await run(server, token, "stop", "Cease fire", "--priority", "routine")
    assert code != 0
    assert out == ""
    assert err == (
        "hotline: --priority routine: a stop request is always FLASH; leave --priority out"
    )
    code, out, _ = await run(server, token, "stop", "Cease fire", "--priority", "flash")
    assert code == 0
    assert out.startswith("recorded on GROUND_COMMANDERS as #")


async def test_incident(server: Harness) -> None:
    async with server.station("RED", GROUND) as red:
        sent = await send(
            server, "BLUE", GROUND, "incident", "Artillery fire on the Conoco plant",
            "--lat", "35.29", "--lon", "40.26",
        )  # fmt: skip
        delivery = await received(server, red, sent, "incident_report")
    report = delivery.incident_report
    assert report.description == "Artillery fire on the Conoco plant"
    assert (report.location.latitude, report.location.longitude) == (35.29, 40.26)


async def test_line_test(server: Harness) -> None:
    async with server.station("RED", AIR) as red:
        sent = await send(server, "BLUE", AIR, "line-test")
        delivery = await received(server, red, sent, "line_test")
    assert delivery.line_test.test_number == 1
    assert delivery.sender.party == "BLUE"


@pytest.mark.parametrize(
    ("answer", "options", "kind"),
    [
        ("wilco", (), A.ACK_KIND_WILCO),
        ("unable", ("--reason", "aircraft already airborne", "--message-id", "red-ack-1"),
         A.ACK_KIND_UNABLE),
    ],
)  # fmt: skip
async def test_ack_answers_the_message_named(
    server: Harness, answer: str, options: tuple[str, ...], kind: int
) -> None:
    async with server.station("BLUE", AIR) as blue, server.station("RED", AIR) as red:
        strike = await blue.send(
            messages_pb2.TextMessage(text="Strike at grid 37S DV 1"), common_pb2.PRIORITY_IMMEDIATE
        )
        await expect(red, is_message(strike.message_id))  # RED has it (and sent its RECEIPT)

        sent = await send(server, "RED", AIR, "ack", strike.message_id, answer, *options)
        if options:
            assert sent.message_id == "red-ack-1"
        answered = await received(server, blue, sent, "acknowledgment")
    assert answered.acknowledgment.message_id == strike.message_id
    assert answered.acknowledgment.kind == kind
    assert answered.acknowledgment.responder.party == "RED"
    assert answered.acknowledgment.reason == (options[1] if options else "")


async def test_ack_of_an_unknown_message_is_refused_saying_so(server: Harness) -> None:
    code, out, err = await run(server, server.token("RED", AIR), "ack", "no-such-id", "wilco")
    assert code != 0
    assert out == ""
    assert "NOT_FOUND" in err
    assert "no message 'no-such-id' awaits answers" in err


# ---------------------------------------------------------------------- zones


def khasham_zone(zone_id: str, radius_m: float = 5000) -> Z.Zone:
    return Z.Zone(
        zone_id=zone_id,
        name="Khasham",
        kind=Z.ZONE_KIND_NO_FIRE_AREA,
        geometry=Z.Geometry(
            circle=Z.Circle(
                center=common_pb2.LatLon(latitude=35.29, longitude=40.26), radius_m=radius_m
            )
        ),
        altitude=Z.AltitudeBand(floor_m=0, ceiling_m=15000),
    )


async def current(server: Harness, zone_id: str) -> Z.Zone:
    async with server.control() as control:
        return (await control.zone(zone_id)).zone


async def test_zone_propose(server: Harness) -> None:
    async with server.station("RED", GROUND) as red:
        sent = await send(
            server, "BLUE", GROUND, "zone-propose", "--zone-id", "NFA-KHASHAM",
            "--name", "Conoco field", "--kind", "no-fire-area", "--circle", f"{KHASHAM},5000",
            "--ceiling", "9000",
        )  # fmt: skip
        delivery = await received(server, red, sent, "zone_proposal")
    zone = delivery.zone_proposal.zone
    assert (zone.zone_id, zone.name, zone.kind) == (
        "NFA-KHASHAM",
        "Conoco field",
        Z.ZONE_KIND_NO_FIRE_AREA,
    )
    assert zone.geometry.circle.radius_m == 5000
    assert zone.altitude.ceiling_m == 9000
    held = await current(server, "NFA-KHASHAM")
    assert (held.state, held.version, held.owner_party) == (Z.ZONE_STATE_PROPOSED, 1, "BLUE")


async def test_zone_update(server: Harness) -> None:
    async with server.station("BLUE", GROUND) as blue, server.station("RED", GROUND) as red:
        await blue.send(Z.ZoneProposal(zone=khasham_zone("NFA-UPDATED")))
        sent = await send(
            server, "BLUE", GROUND, "zone-update", "--zone-id", "NFA-UPDATED",
            "--kind", "NO_FIRE_AREA", "--circle", f"{KHASHAM},8000",
        )  # fmt: skip
        delivery = await received(server, red, sent, "zone_update")
    assert delivery.zone_update.zone.geometry.circle.radius_m == 8000
    held = await current(server, "NFA-UPDATED")
    assert (held.version, held.geometry.circle.radius_m) == (2, 8000)
    assert held.state == Z.ZONE_STATE_PROPOSED


@pytest.mark.parametrize(
    ("decision", "options", "kind", "state"),
    [
        ("accept", (), Z.ZONE_DECISION_KIND_ACCEPT, Z.ZONE_STATE_ACTIVE),
        ("reject", ("--reason", "covers our supply route"), Z.ZONE_DECISION_KIND_REJECT,
         Z.ZONE_STATE_REJECTED),
    ],
)  # fmt: skip
async def test_zone_decide(
    server: Harness, decision: str, options: tuple[str, ...], kind: int, state: int
) -> None:
    async with server.station("BLUE", GROUND) as blue:
        await blue.send(Z.ZoneProposal(zone=khasham_zone("NFA-DECIDED")))
        sent = await send(
            server, "RED", GROUND, "zone-decide", decision, "--zone-id", "NFA-DECIDED",
            "--version", "1", *options,
        )  # fmt: skip
        delivery = await received(server, blue, sent, "zone_decision")
    answer = delivery.zone_decision
    assert (answer.zone_id, answer.version, answer.decision) == ("NFA-DECIDED", 1, kind)
    assert answer.reason == (options[1] if options else "")
    assert (await current(server, "NFA-DECIDED")).state == state


async def test_zone_withdraw(server: Harness) -> None:
    async with server.station("BLUE", GROUND) as blue, server.station("RED", GROUND) as red:
        await blue.send(Z.ZoneProposal(zone=khasham_zone("NFA-WITHDRAWN")))
        await red.send(
            Z.ZoneDecision(zone_id="NFA-WITHDRAWN", version=1, decision=Z.ZONE_DECISION_KIND_ACCEPT)
        )
        sent = await send(
            server, "BLUE", GROUND, "zone-withdraw", "--zone-id", "NFA-WITHDRAWN",
            "--reason", "the operation is over",
        )  # fmt: skip
        delivery = await received(server, red, sent, "zone_withdrawal")
    assert delivery.zone_withdrawal.zone_id == "NFA-WITHDRAWN"
    assert delivery.zone_withdrawal.reason == "the operation is over"
    assert (await current(server, "NFA-WITHDRAWN")).state == Z.ZONE_STATE_WITHDRAWN


def test_every_kind_is_tested_here(capsys: pytest.CaptureFixture[str]) -> None:
    """A kind added to ``hotline send`` needs its test in this file."""
    with pytest.raises(SystemExit):
        main(["send", "--help"])
    listed = re.findall(r"^ {4}([a-z-]+)(?: |$)", capsys.readouterr().out, re.MULTILINE)
    assert set(listed) == {
        "text", "position", "zone-propose", "zone-update", "zone-decide", "zone-withdraw",
        "notice", "stop", "incident", "line-test", "ack",
    }  # fmt: skip
