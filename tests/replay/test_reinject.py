"""Re-injection: an exercise recorded on server A is played into a sandbox server B.

On A (deadlines of a second or so), BLUE sends two strike notices near Deir Ezzor; RED
answers the first with WILCO and leaves the second unanswered (ACK_OVERDUE), and the
two sides report aircraft 4 km apart (SEPARATION_BREACH). ``hotline replay --into B``
sends what the stations sent into B, through exercise control: B's stations get the
messages marked as replays of the originals, and B raises its own alerts and deadlines.
A's log (a copy of it, recorded once for both tests) is only read.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import grpc
import pytest

from hotline.cli.reinject import replay_message_id
from hotline.client import HotlineClient, Refused, envelope
from hotline.contract import timestamp
from hotline.server.exercise import default_exercise
from hotline.testing.commands import run_hotline
from hotline.testing.harness import (
    AIR,
    GENERALS,
    SHORT,
    Harness,
    expect,
    is_ack,
    is_alert,
    running_server,
)
from hotline.testing.pki import ExercisePki
from hotline.testing.recorded import Recorded, Recordings
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    log_pb2,
    messages_pb2,
    positions_pb2,
)

A = acknowledgments_pb2
BLUE_AIR = common_pb2.StationRef(party="BLUE", hotline=AIR)


def aircraft(unit_id: str, longitude: float, altitude_m: float) -> positions_pb2.PositionReport:
    """One aircraft holding its position on the parallel of Deir Ezzor, observed now."""
    return positions_pb2.PositionReport(
        positions=[
            positions_pb2.UnitPosition(
                unit_id=unit_id,
                callsign=unit_id,
                domain=common_pb2.DOMAIN_AIR,
                latitude=35.336,
                longitude=longitude,
                altitude_m=altitude_m,
                observed_at=timestamp(),
                accuracy_m=15.0,
            )
        ]
    )


async def record_exercise(data_dir: Path) -> tuple[str, str, str]:
    """Runs the exercise on a server A; the ids of both notices and RED's report."""
    async with (
        running_server(data_dir, default_exercise(SHORT)) as server,
        server.station("BLUE", AIR) as blue,
        server.station("RED", AIR) as red,
    ):
        first = await blue.send(
            messages_pb2.TextMessage(text="Strike package over Deir Ezzor at 0600Z"),
            common_pb2.PRIORITY_IMMEDIATE,
        )
        delivery = await expect(red, lambda e: e.message_id == first.message_id)
        await red.acknowledge(delivery, A.ACK_KIND_WILCO)
        await expect(blue, is_ack(first.message_id, A.ACK_KIND_WILCO))
        second = await blue.send(
            messages_pb2.TextMessage(text="Second strike at 0630Z, keep clear"),
            common_pb2.PRIORITY_IMMEDIATE,
        )
        await expect(blue, is_alert(A.ALERT_KIND_ACK_OVERDUE))
        await blue.send(aircraft("VIPER-31", 40.100, 7000.0))
        report = await red.send(aircraft("FENCER-41", 40.144, 7100.0))
        seen: list[envelope_pb2.Envelope] = []
        await expect(blue, is_alert(A.ALERT_KIND_SEPARATION_BREACH), seen=seen)
        # BLUE's client sends its RECEIPT when it hands the report over; the FLASH alert
        # may overtake the report, which then is still to be taken.
        if report.message_id not in {e.message_id for e in seen}:
            await expect(blue, lambda e: e.message_id == report.message_id)
        await expect(red, is_ack(report.message_id, A.ACK_KIND_RECEIPT))
    return first.message_id, second.message_id, report.message_id


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def reinjection(log: Path, sandbox: Harness, *options: str) -> list[str]:
    control = log.parent / "control.token"
    control.write_text(sandbox.role_token(common_pb2.ROLE_EXERCISE_CONTROL) + "\n")
    return [
        "replay", str(log), "--key", str(log.parent / "signing.pub"), "--speed", "0",
        "--into", sandbox.address, "--token-file", str(control), *options,
    ]  # fmt: skip


@pytest.fixture
def recorded(recordings: Recordings) -> Recorded[tuple[str, str, str]]:
    """Server A's exercise: the ids of both notices and RED's report."""
    return recordings.of(record_exercise)


async def test_a_sandbox_on_tls_takes_the_replay(
    recorded: Recorded[tuple[str, str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, _, _ = recorded.sent
    log = recorded.copy_log(tmp_path)
    pki = ExercisePki(tmp_path / "pki")
    async with (
        running_server(
            tmp_path / "b", default_exercise(SHORT), client_tls=pki.tls(), **pki.server_settings()
        ) as sandbox,
        sandbox.station("RED", AIR) as red,
    ):
        options = reinjection(log, sandbox, "--into-ca", str(pki.ca_file))
        code, out, err = await run_hotline(capsys, *options)
        assert code == 0, err
        assert "0 refused" in out.splitlines()[-1]
        await expect(red, lambda e: e.replay_of == first)


async def test_recorded_traffic_replays_into_a_second_server_as_new_messages(
    recorded: Recorded[tuple[str, str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second, report = recorded.sent
    log = recorded.copy_log(tmp_path)
    before = digest(log)

    async with (
        running_server(tmp_path / "b", default_exercise(SHORT)) as sandbox,
        sandbox.station("BLUE", AIR) as blue,
        sandbox.station("RED", AIR) as red,
    ):
        code, out, err = await run_hotline(capsys, *reinjection(log, sandbox))
        assert code == 0, err
        assert "0 refused" in out.splitlines()[-1]

        # RED gets BLUE's notices as replays, with ids derived from the originals.
        notice = await expect(red, lambda e: e.replay_of == first)
        assert notice.message_id == replay_message_id(first)
        assert notice.sender.party == "BLUE"
        assert notice.text.text == "Strike package over Deir Ezzor at 0600Z"
        # The recorded WILCO answers the re-injected notice.
        await expect(blue, is_ack(replay_message_id(first), A.ACK_KIND_WILCO))
        # B raises its own alerts: the re-injected reports are checked by B's engine ...
        seen: list[envelope_pb2.Envelope] = []
        breach = await expect(blue, is_alert(A.ALERT_KIND_SEPARATION_BREACH), seen=seen)
        assert breach.alert.message_id == replay_message_id(report)
        assert sorted(breach.alert.unit_ids) == ["FENCER-41", "VIPER-31"]
        # ... and the second notice goes unanswered on B too.
        overdue = next(
            (e for e in seen if is_alert(A.ALERT_KIND_ACK_OVERDUE)(e)), None
        ) or await expect(blue, is_alert(A.ALERT_KIND_ACK_OVERDUE))
        assert overdue.alert.message_id == replay_message_id(second)

        async with sandbox.control() as control:
            records = []
            async for record in control.watch(resume_after_index=0):
                records.append(record)
                if record.envelope.alert.message_id == replay_message_id(report):
                    break
        replays = [r for r in records if r.envelope.replay_of]
        assert {r.envelope.replay_of for r in replays} >= {first, second, report}
        assert all(r.actor == "EXERCISE_CONTROL:trainer" for r in replays)
        assert all(r.envelope.message_id.startswith("replay:") for r in replays)
        alerts = [r for r in records if r.envelope.WhichOneof("body") == "alert"]
        assert alerts
        assert not any(r.envelope.replay_of for r in alerts)

        # Re-injecting again takes effect once: everything is already there.
        code, out, err = await run_hotline(capsys, *reinjection(log, sandbox))
        assert code == 0, err
        summary = out.splitlines()[-1]
        assert summary.startswith("re-injected ")
        assert ": 0 new," in summary
        assert "0 refused" in summary

    assert digest(log) == before


async def test_a_party_filter_reinjects_that_partys_traffic(
    recorded: Recorded[tuple[str, str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--party BLUE``: what BLUE sent, and the answers addressed to BLUE; not RED's
    report to the whole line, and BLUE's RECEIPT of that report is skipped, not refused."""
    first, second, report = recorded.sent
    log = recorded.copy_log(tmp_path)
    async with running_server(tmp_path / "b", default_exercise(SHORT)) as sandbox:
        code, out, err = await run_hotline(
            capsys, *reinjection(log, sandbox, "--party", "BLUE", "--json")
        )
    assert code == 0, out + err
    *lines, summary = (json.loads(line) for line in out.splitlines())
    reinjected = {line["replay_of"]: line for line in lines}
    assert reinjected[first]["sender"] == reinjected[second]["sender"] == "BLUE/AIR_OPERATIONS"
    assert reinjected[first]["state"] == "new"
    assert report not in reinjected
    assert {line["sender"] for line in lines} == {"BLUE/AIR_OPERATIONS", "RED/AIR_OPERATIONS"}
    assert summary["summary"]["refused"] == 0
    skipped = [line for line in lines if line["state"] == "skipped"]
    assert [line["reason"] for line in skipped if report in line["reason"]] == [
        f"answers {report}, which this replay did not re-inject"
    ]


# ---------------------------------------------------------------------- the rule


def replay_envelope(
    station: common_pb2.StationRef = BLUE_AIR, replay_of: str = "recorded-1"
) -> envelope_pb2.Envelope:
    message = envelope(station, messages_pb2.TextMessage(text="Strike at 0600Z"))
    message.replay_of = replay_of
    return message


async def refused(client: HotlineClient, message: envelope_pb2.Envelope) -> Refused:
    with pytest.raises(Refused) as caught:
        await client.send(message)
    return caught.value


async def test_exercise_control_speaks_for_a_station_only_to_replay(server: Harness) -> None:
    async with server.control() as control:
        result = await control.send(replay_envelope())
        assert result.sequence > 0
        # Without replay_of, exercise control is not a station.
        live = replay_envelope()
        live.ClearField("replay_of")
        error = await refused(control, live)
        assert error.code == grpc.StatusCode.PERMISSION_DENIED
        assert "only stations do" in error.detail
        # Only as a station the exercise has, on that station's hotline.
        error = await refused(
            control, replay_envelope(common_pb2.StationRef(party="GREEN", hotline=AIR))
        )
        assert error.code == grpc.StatusCode.FAILED_PRECONDITION
        assert "no GREEN station on AIR_OPERATIONS" in error.detail
        astray = replay_envelope()
        astray.hotline = GENERALS
        error = await refused(control, astray)
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        # Server-only bodies stay the server's.
        alert = replay_envelope()
        alert.alert.kind = A.ALERT_KIND_SEPARATION_BREACH
        error = await refused(control, alert)
        assert error.code == grpc.StatusCode.PERMISSION_DENIED
        assert "server only" in error.detail

        async for record in control.watch(resume_after_index=0):
            if record.envelope.replay_of == "recorded-1":
                break
        assert record.actor == "EXERCISE_CONTROL:trainer"
        assert record.envelope.sender.party == "BLUE"


async def test_stations_and_observers_cannot_replay_as_anyone(server: Harness) -> None:
    async with HotlineClient(server.address, server.token("BLUE", AIR)) as blue:
        error = await refused(blue, replay_envelope())
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
        assert "replay_of" in error.detail
        error = await refused(
            blue, replay_envelope(common_pb2.StationRef(party="RED", hotline=AIR))
        )
        assert error.code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED)
    observer = server.role_token(common_pb2.ROLE_OBSERVER)
    async with HotlineClient(server.address, observer) as watcher:
        error = await refused(watcher, replay_envelope())
        assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    async with server.control() as control:
        refusals = []
        async for record in control.watch(resume_after_index=0):
            if record.kind == log_pb2.RECORD_KIND_REQUEST_REFUSED:
                refusals.append(record)
                if len(refusals) == 3:
                    break
    assert [r.actor for r in refusals] == ["BLUE/AIR_OPERATIONS"] * 2 + ["OBSERVER:trainer"]
