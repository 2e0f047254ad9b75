"""A restart reads the latest snapshot and the records after it, and ends up exactly
where reading the whole log ends up (:mod:`hotline.testing.drill`, with the deconfliction checks
in process).

Each test drives an exercise, then starts two servers on copies of its log: one as it
is (with its snapshot), one with the snapshot removed (reading every record). Both must
show the same statuses and zones and, driven on the same way, append the same records
byte for byte — deadlines, escalations and deconfliction alerts included.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from pathlib import Path

import grpc
import pytest

from hotline.contract import SERVER_ID_PREFIX
from hotline.server import message_ids
from hotline.server import switchboard as switchboard_module
from hotline.server.record_log import RecordLog
from hotline.server.snapshot import LiveState
from hotline.testing.drill import AIR, GROUND, A, Drill
from hotline.v1 import common_pb2, log_pb2, positions_pb2, zones_pb2

Z = zones_pb2
#: Records that carry a session's random id: the only ones two servers write apart.
SESSIONS = {log_pb2.RECORD_KIND_STATION_CONNECTED, log_pb2.RECORD_KIND_STATION_DISCONNECTED}


async def propose_roz(drill: Drill) -> None:
    """RED's restricted operations zone over Deir Ezzor, accepted by BLUE."""
    proposal = drill.envelope("RED", AIR, common_pb2.PRIORITY_IMMEDIATE)
    zone = proposal.zone_proposal.zone
    zone.zone_id = "roz-deir-ezzor"
    zone.name = "ROZ Deir Ezzor"
    zone.kind = Z.ZONE_KIND_RESTRICTED_OPERATIONS_ZONE
    zone.geometry.circle.center.latitude = 35.336
    zone.geometry.circle.center.longitude = 40.141
    zone.geometry.circle.radius_m = 20_000
    zone.altitude.floor_m = 0
    zone.altitude.ceiling_m = 12_000
    zone.effective_from.FromSeconds(int(drill.clock.now) - 60)
    zone.effective_until.FromSeconds(int(drill.clock.now) + 86_400)
    assert (result := await drill.submit(proposal)).code == 0, result.error
    decision = drill.envelope("BLUE", AIR, common_pb2.PRIORITY_IMMEDIATE)
    decision.zone_decision.zone_id = "roz-deir-ezzor"
    decision.zone_decision.version = 1
    decision.zone_decision.decision = Z.ZONE_DECISION_KIND_ACCEPT
    assert (result := await drill.submit(decision)).code == 0, result.error


async def report(drill: Drill, unit: str, latitude: float, longitude: float) -> None:
    """BLUE reports an aircraft at 6,000 m flying east."""
    envelope = drill.envelope("BLUE", AIR, common_pb2.PRIORITY_ROUTINE)
    position = positions_pb2.UnitPosition(
        unit_id=unit,
        callsign=unit,
        domain=common_pb2.DOMAIN_AIR,
        latitude=latitude,
        longitude=longitude,
        altitude_m=6000,
        course_deg=90,
        speed_mps=200,
    )
    position.observed_at.FromNanoseconds(int(drill.clock.now * 1e9))
    envelope.position_report.positions.append(position)
    assert (result := await drill.submit(envelope)).code == 0, result.error


async def drive(drill: Drill, rounds: int) -> None:
    """Traffic of every kind the live state keeps: open and answered chains on two
    hotlines, a zone, tracks inside it, a suspended line, retried ids."""
    await drill.connect("BLUE", AIR)
    await drill.connect("RED", AIR)
    await drill.connect("RED", common_pb2.HOTLINE_GENERALS)
    await propose_roz(drill)
    for n in range(rounds):
        priority = (common_pb2.PRIORITY_FLASH, common_pb2.PRIORITY_ROUTINE)[n % 2]
        sent = await drill.text("BLUE", AIR, f"message {n}", priority)
        if n % 3 == 0:
            await drill.answer("RED", AIR, sent.message_id, A.ACK_KIND_RECEIPT)
        if n % 5 == 0:
            await drill.answer("RED", AIR, sent.message_id, A.ACK_KIND_WILCO)
        await drill.text("RED", GROUND, f"ground {n}", common_pb2.PRIORITY_PRIORITY)
        # VIPER flies into RED's zone and stays there; COBRA stays out.
        await report(drill, "VIPER-1", 35.336, 39.80 + 0.05 * min(n, 7))
        await report(drill, "COBRA-2", 36.5, 39.0 + 0.01 * n)
        await drill.advance(0.7)
    drill.switchboard.set_suspended(drill.control_credential(), GROUND, "talks", True)
    await drill.switchboard.flush()


async def retry_the_first_text(drill: Drill) -> None:
    """BLUE's first text sent again, long after: the same content is a duplicate, other
    content under its id is refused (and recorded)."""
    first = next(
        r.envelope for r in await drill.records() if r.envelope.WhichOneof("body") == "text"
    )
    again = drill.envelope("BLUE", AIR, first.priority, first.message_id)
    again.text.CopyFrom(first.text)
    result = await drill.submit(again)
    assert (result.code, result.duplicate) == (0, True), result.error
    again.text.text = "another text under the same id"
    assert (await drill.submit(again)).code == grpc.StatusCode.ALREADY_EXISTS.value[0]


async def go_on(drill: Drill) -> list[bytes]:
    """The same continuation for both servers; returns the records it appended."""
    start = len(await drill.records())
    await retry_the_first_text(drill)
    await drill.advance(1.5)
    await report(drill, "VIPER-1", 35.336, 40.16)  # still inside: no new incursion
    await report(drill, "COBRA-2", 35.336, 40.10)  # enters: an incursion
    await drill.advance(30)
    drill.switchboard.set_suspended(drill.control_credential(), GROUND, "", False)
    await drill.switchboard.flush()
    await drill.advance(600)
    return [
        r.SerializeToString() for r in (await drill.records())[start:] if r.kind not in SESSIONS
    ]


async def views(drill: Drill) -> tuple[object, ...]:
    switchboard = drill.switchboard
    return (
        [s.SerializeToString() for s in switchboard.station_statuses()],
        [h.SerializeToString() for h in switchboard.hotline_statuses()],
        [z.SerializeToString() for z in switchboard.zones()],
        switchboard.next_deadline(),
        switchboard.log_size,
    )


@pytest.fixture(autouse=True)
def few_ids_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ids leave the recent ones after 8, so that a retry is looked up in the log."""
    monkeypatch.setattr(message_ids, "RECENT", 8)


async def test_a_restart_from_the_snapshot_ends_where_reading_the_whole_log_does(
    tmp_path: Path,
) -> None:
    drill = Drill(tmp_path / "run", deconfliction=True)
    async with drill:
        await drive(drill, rounds=40)
    whole = drill.copy(tmp_path / "whole")
    whole.forget_snapshots()
    async with drill, whole:
        # A clean stop leaves a snapshot of everything: nothing is read after it (the
        # one record since is the new start's).
        assert drill.switchboard.recovered_from == drill.switchboard.log_size - 1
        assert whole.switchboard.recovered_from == 0
        assert await views(drill) == await views(whole)
        continued, replayed = await go_on(drill), await go_on(whole)
    assert continued == replayed
    kinds = [log_pb2.LogRecord.FromString(r) for r in continued]
    incursions = [
        r.envelope.alert.unit_ids[0]
        for r in kinds
        if r.envelope.alert.kind == A.ALERT_KIND_ZONE_INCURSION
    ]
    assert incursions == ["COBRA-2"]
    assert drill.verify().problems == ()


async def test_a_crash_between_snapshots_restarts_from_the_last_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # However large the state, a snapshot every 50 records.
    monkeypatch.setattr(switchboard_module, "SNAPSHOT_BYTES_PER_RECORD", 10**9)
    drill = Drill(tmp_path / "run", deconfliction=True, snapshot_every=50)
    async with drill:
        await drive(drill, rounds=30)
        await drill.switchboard.flush()
        # kill -9 now: what is on disk is what a restarted server finds.
        crashed = drill.copy(tmp_path / "crashed")
        size = drill.switchboard.log_size
    whole = crashed.copy(tmp_path / "whole")
    whole.forget_snapshots()
    async with crashed, whole:
        assert 0 < crashed.switchboard.recovered_from < size
        assert size - crashed.switchboard.recovered_from < 50 + 20
        assert await views(crashed) == await views(whole)
        assert await go_on(crashed) == await go_on(whole)


def snapshots_kept(drill: Drill) -> list[int]:
    with contextlib.closing(sqlite3.connect(drill.data_dir / "hotline.sqlite")) as db:
        return [idx for (idx,) in db.execute("SELECT idx FROM snapshots ORDER BY idx")]


async def retry_every_text(drill: Drill) -> list[bool]:
    """Every station's text recorded so far sent again: whether each is known as a
    duplicate."""
    texts = [
        r.envelope
        for r in await drill.records()
        if r.envelope.WhichOneof("body") == "text"
        and not r.envelope.message_id.startswith(SERVER_ID_PREFIX)
    ]
    known = []
    for text in texts:
        again = drill.envelope(text.sender.party, text.hotline, text.priority, text.message_id)
        again.text.CopyFrom(text.text)
        result = await drill.submit(again)
        known.append(result.code == 0 and result.duplicate)
    return known


async def test_the_filter_of_message_ids_is_kept_once_for_several_snapshots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot carries the filter of message ids only every FILTER_RECORDS records;
    the others name the one that does, kept beside them. A restart from one of them
    completes the filter from the message keys of the records in between: every id
    used before is known, as after reading the whole log."""
    monkeypatch.setattr(switchboard_module, "SNAPSHOT_BYTES_PER_RECORD", 10**9)
    # The first snapshot carries the filter; every later one names it.
    monkeypatch.setattr(switchboard_module, "FILTER_RECORDS", 10**9)
    drill = Drill(tmp_path / "run", deconfliction=True, snapshot_every=50)
    async with drill:
        await drive(drill, rounds=30)
        await drill.switchboard.flush()
        crashed = drill.copy(tmp_path / "crashed")
    holder, latest = snapshots_kept(crashed)
    assert holder < 100
    assert latest > 1_000
    without_holder = crashed.copy(tmp_path / "without-holder")
    with contextlib.closing(sqlite3.connect(without_holder.data_dir / "hotline.sqlite")) as db:
        db.execute("DELETE FROM snapshots WHERE idx = ?", (holder,))
        db.commit()
    whole = crashed.copy(tmp_path / "whole")
    whole.forget_snapshots()
    async with crashed, whole, without_holder:
        assert crashed.switchboard.recovered_from == latest
        # Without the snapshot that holds the filter, the whole log is read.
        assert without_holder.switchboard.recovered_from == 0
        assert await views(crashed) == await views(whole)
        retried = await retry_every_text(crashed)
        assert len(retried) > 50
        assert all(retried)
        assert retried == await retry_every_text(whole)
        assert await go_on(crashed) == await go_on(whole)


async def test_a_damaged_snapshot_is_passed_over_for_the_whole_log(tmp_path: Path) -> None:
    drill = Drill(tmp_path / "run")
    async with drill:
        await drive(drill, rounds=5)
    damaged = drill.copy(tmp_path / "damaged")
    with contextlib.closing(sqlite3.connect(damaged.data_dir / "hotline.sqlite")) as db:
        # One byte of the pickled state changed: its signature no longer holds.
        (state,) = db.execute("SELECT state FROM snapshots").fetchone()
        flipped = bytearray(state)
        flipped[-10] ^= 0xFF
        db.execute("UPDATE snapshots SET state = ?", (bytes(flipped),))
        db.commit()
    async with drill, damaged:
        assert drill.switchboard.recovered_from > 0
        assert damaged.switchboard.recovered_from == 0
        assert await views(drill) == await views(damaged)


async def test_a_large_live_state_is_written_less_often(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of messages nobody answers make every snapshot large: they are spaced
    so that each record pays the same for them, not once every 50 records."""
    taken: list[int] = []
    store = RecordLog.append_snapshot

    def counted(log: RecordLog, live: LiveState) -> None:
        taken.append(live.index)
        store(log, live)

    monkeypatch.setattr(RecordLog, "append_snapshot", counted)
    async with Drill(tmp_path, snapshot_every=50) as drill:
        await drill.connect("BLUE", AIR)
        for n in range(2_000):  # RED never connects
            await drill.text("BLUE", AIR, f"routine {n}", common_pb2.PRIORITY_ROUTINE)
        records = drill.switchboard.log_size
    spacing = [b - a for a, b in itertools.pairwise(taken)]
    assert records > 2_000
    # At first every 50 records or so (when the snapshot task gets its turn); then
    # further apart as the state grows.
    assert spacing[0] < 200
    assert max(spacing) > 500
    assert len(taken) < records / 50 / 3
