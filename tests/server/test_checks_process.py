"""The deconfliction checks in their own process: the same findings as in the event
loop, in order, with their causes; zones and notices answered before ``observe``
returns; a dead checks process stops the server instead of leaving it unchecked."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from server.deconfliction.scenario import DEIR_EZZOR, KHASHAM, T0, circle, notice, unit, zone

from hotline.server.checks import Cause, Checks, Finding, LocalChecks
from hotline.server.checks_process import ChecksProcess
from hotline.server.errors import Unavailable
from hotline.server.exercise import Separation
from hotline.v1 import common_pb2, envelope_pb2, messages_pb2, positions_pb2, zones_pb2

AIR = common_pb2.HOTLINE_AIR_OPERATIONS
Observed = tuple[envelope_pb2.Envelope, str, Cause]


def position(party: str, message_id: str, *units: positions_pb2.UnitPosition) -> Observed:
    envelope = envelope_pb2.Envelope(message_id=message_id, hotline=AIR)
    envelope.sender.party = party
    envelope.position_report.positions.extend(units)
    return envelope, "position_report", Cause(AIR, message_id, units[0].observed_at.seconds)


def zone_state(message_id: str, z: zones_pb2.Zone, at: float) -> Observed:
    envelope = envelope_pb2.Envelope(message_id=f"srv:{message_id}", hotline=AIR)
    envelope.zone_status.zone.CopyFrom(z)
    return envelope, "zone_status", Cause(AIR, message_id, at)


def strike(party: str, message_id: str, at: float) -> Observed:
    envelope = envelope_pb2.Envelope(message_id=message_id, hotline=AIR)
    envelope.sender.party = party
    envelope.activity_notice.CopyFrom(
        notice(messages_pb2.ACTIVITY_TYPE_STRIKE, circle(KHASHAM, 5_000.0), (at + 600, at + 1800))
    )
    return envelope, "activity_notice", Cause(AIR, message_id, at)


def exercise_traffic() -> list[Observed]:
    """A BLUE ROZ over Deir Ezzor; a RED aircraft flying through it and close past a
    BLUE one; BLUE ground units near Khasham and a RED strike notice over them."""
    traffic = [
        zone_state("roz", zone("ROZ-DEZ", circle(DEIR_EZZOR, 10_000.0)), T0),
        position("BLUE", "b0", unit("VIPER-1", (35.336, 40.30), T0, altitude_m=6_000.0)),
        position(
            "BLUE",
            "g0",
            unit("TANK-1", KHASHAM, T0, domain=common_pb2.DOMAIN_GROUND, altitude_m=0.0),
        ),
    ]
    for i in range(20):
        at = T0 + 12.0 * i
        lon = 39.95 + 0.02 * i
        traffic.append(
            position(
                "RED",
                f"r{i}",
                unit("FENCER-1", (35.336, lon), at, altitude_m=6_100.0, course_deg=90.0),
            )
        )
    traffic.append(strike("RED", "strike", T0 + 240.0))
    return traffic


C = TypeVar("C", bound=Checks)


@dataclass
class Sink:
    """What a Checks gave back: findings with their causes, and failures."""

    found: list[tuple[Cause, list[Finding]]] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)

    def bound(self, checks: C) -> C:
        checks.bind(self.take, self.failures.append)
        return checks

    def take(self, cause: Cause, findings: list[Finding]) -> None:
        self.found.append((cause, findings))

    def text(self) -> list[tuple[Cause, list[bytes]]]:
        return [(cause, [f.alert.SerializeToString() for f in fs]) for cause, fs in self.found]


def feed(checks: Checks, traffic: Iterable[Observed]) -> None:
    for envelope, body, cause in traffic:
        checks.observe(
            envelope, envelope.SerializeToString(), body, cause.at, validated=False, cause=cause
        )


async def test_the_checks_process_finds_what_the_event_loop_finds_in_the_same_order() -> None:
    traffic = exercise_traffic()
    in_loop, beside = Sink(), Sink()
    local = in_loop.bound(LocalChecks(Separation()))
    process = beside.bound(ChecksProcess(Separation()))
    try:
        for checks in (local, process):
            feed(checks, traffic)
            await checks.settle()
    finally:
        await process.close()
    kinds = {f.alert.kind for _, fs in in_loop.found for f in fs}
    assert len(kinds) >= 4, kinds  # incursion, cleared, separation, notice conflict at least
    assert beside.text() == in_loop.text()
    assert beside.failures == []


async def test_a_zone_or_notice_is_answered_before_observe_returns() -> None:
    sink = Sink()
    process = sink.bound(ChecksProcess(Separation()))
    try:
        ground = unit("TANK-1", KHASHAM, T0, domain=common_pb2.DOMAIN_GROUND, altitude_m=0.0)
        feed(process, [position("BLUE", "g0", ground), strike("RED", "s", T0)])
        # No turn of the event loop in between: the notice's answer came with observe.
        assert [cause.message_id for cause, _ in sink.found] == ["s"]
        assert [f.alert.unit_ids for f in sink.found[0][1]] == [["TANK-1"]]
    finally:
        await process.close()
    assert sink.failures == []


async def test_findings_without_a_cause_are_dropped_and_close_delivers_the_rest() -> None:
    sink = Sink()
    process = sink.bound(ChecksProcess(Separation()))
    traffic = exercise_traffic()
    roz_envelope, roz_body, _ = traffic[0]
    # The zone read back at start-up: taken in, nothing raised about it.
    process.observe(
        roz_envelope, roz_envelope.SerializeToString(), roz_body, T0, validated=False, cause=None
    )
    feed(process, traffic[1:-1])
    await process.close()
    causes = [cause.message_id for cause, _ in sink.found]
    assert "roz" not in causes
    # FENCER-1's incursion and what followed; the strike notice was not sent.
    assert causes
    assert all(c.startswith("r") for c in causes)
    assert sink.failures == []


async def test_a_dead_checks_process_stops_the_server() -> None:
    failed: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()
    process = ChecksProcess(Separation())
    process.bind(lambda cause, findings: None, failed.set_result)
    os.kill(process._process.pid, signal.SIGKILL)
    try:
        error = await asyncio.wait_for(failed, 10)
    finally:
        await process.close()
    assert isinstance(error, Unavailable)
    assert "deconfliction checks stopped" in error.message


async def test_the_checks_process_outlives_the_signals_meant_for_the_server() -> None:
    """Ctrl-C or a service manager's SIGTERM reach the whole process group; the server
    shuts down in order, so its checks must go on until it closes them."""
    sink = Sink()
    process = sink.bound(ChecksProcess(Separation()))
    try:
        await process.settle()  # the child is up and has set its signals
        for sig in (signal.SIGINT, signal.SIGTERM):
            os.kill(process._process.pid, sig)
        feed(process, exercise_traffic())
        await process.settle()
    finally:
        await process.close()
    assert sink.found
    assert sink.failures == []
    assert process._process.returncode == 0
