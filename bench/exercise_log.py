"""A long recorded exercise, written straight into a signed SQLite log, for the replay,
report and export benchmarks.

The records have the shapes the switchboard writes (``LogRecord`` with an envelope,
per-hotline sequence numbers, leaf hashes, a signed checkpoint every 1,000 records and
one when the server stops), and the traffic of a busy exercise near Deir Ezzor: BLUE
and RED aircraft and ground units reporting every few seconds, zones proposed and
accepted, text messages answered with RECEIPT and WILCO/ROGER, some answered late after
a missed deadline, ACK_OVERDUE and ESCALATED alerts with the escalated copy on GENERALS,
incursion and separation alerts, and trainer bookmarks. Writing 1,000,000 records takes
about a minute; the benchmarks keep the file between runs (``--log``).

    python bench/exercise_log.py OUT.db [--records 1000000]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypeAlias

from hotline.server.acknowledgments import AckKind
from hotline.server.audit import Signer
from hotline.server.audit.trail import AuditTrail, CheckpointPolicy
from hotline.server.exercise import Hotline, default_exercise
from hotline.server.storage import StoredRecord, open_backend
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    log_pb2,
    messages_pb2,
    positions_pb2,
    zones_pb2,
)

RecordKind: TypeAlias = log_pb2.RecordKind.ValueType
ZoneState: TypeAlias = zones_pb2.ZoneState.ValueType

ORIGIN = "hotline/bench-exercise"
SIGNER = Signer(ORIGIN, bytes(range(32)))
#: The verifier key of the logs written here, as ``--key`` takes it.
VERIFIER_KEY = SIGNER.verifier.encode()
START = 1_800_000_000.0
AIR = common_pb2.HOTLINE_AIR_OPERATIONS
GROUND = common_pb2.HOTLINE_GROUND_COMMANDERS
GENERALS = common_pb2.HOTLINE_GENERALS
# Deir Ezzor, on the Euphrates.
CENTRE = (35.336, 40.145)


class _Recorder:
    """Numbers records and per-hotline sequences, and stamps times, as the server does."""

    def __init__(self) -> None:
        self.index = 0
        self.now = START
        self.sequence = {AIR: 0, GROUND: 0, GENERALS: 0}

    def record(
        self,
        kind: RecordKind,
        hotline: Hotline,
        actor: str,
        correlation: str = "",
        **payload: object,
    ) -> StoredRecord:
        record = log_pb2.LogRecord(
            index=self.index,
            kind=kind,
            hotline=hotline,
            actor=actor,
            correlation_id=correlation,
            **payload,  # type: ignore[arg-type]
        )
        record.recorded_at.FromNanoseconds(int(self.now * 1e9))
        self.index += 1
        return StoredRecord(record.index, kind, hotline, 0, record.SerializeToString())

    def envelope(
        self, envelope: envelope_pb2.Envelope, actor: str, audience: list[str]
    ) -> StoredRecord:
        hotline = envelope.hotline
        self.sequence[hotline] += 1
        envelope.sequence = self.sequence[hotline]
        envelope.recorded_at.FromNanoseconds(int(self.now * 1e9))
        if not envelope.HasField("sent_at"):
            envelope.sent_at.CopyFrom(envelope.recorded_at)
        envelope.audience[:] = audience
        stored = self.record(
            log_pb2.RECORD_KIND_ENVELOPE, hotline, actor, envelope.message_id, envelope=envelope
        )
        return StoredRecord(stored.index, stored.kind, hotline, envelope.sequence, stored.data)


def _station(party: str, hotline: Hotline) -> common_pb2.StationRef:
    return common_pb2.StationRef(party=party, hotline=hotline)


def _actor(party: str, hotline: Hotline) -> str:
    return f"{party}/{common_pb2.Hotline.Name(hotline).removeprefix('HOTLINE_')}"


def _zone(zone_id: str, party: str, offset: float, state: ZoneState) -> zones_pb2.Zone:
    lat, lon = CENTRE[0] + offset, CENTRE[1] + offset
    zone = zones_pb2.Zone(
        zone_id=zone_id,
        version=1,
        name=f"ROZ {zone_id}",
        kind=zones_pb2.ZONE_KIND_RESTRICTED_OPERATIONS_ZONE,
        owner_party=party,
        restricted_domains=[common_pb2.DOMAIN_AIR],
        state=state,
        proposed_by=party,
    )
    for dlat, dlon in ((0, 0), (0, 0.2), (0.2, 0.2), (0.2, 0)):
        zone.geometry.polygon.vertices.add(latitude=lat + dlat, longitude=lon + dlon)
    zone.altitude.floor_m, zone.altitude.ceiling_m = 0.0, 9000.0
    return zone


def _positions(party: str, domain: int, step: int, units: int) -> positions_pb2.PositionReport:
    report = positions_pb2.PositionReport()
    sign = 1.0 if party == "BLUE" else -1.0
    for unit in range(units):
        angle = (step / 600.0 + unit / units) * 2 * math.pi
        radius = 0.3 if domain == common_pb2.DOMAIN_AIR else 0.1
        position = report.positions.add(
            unit_id=f"{party.lower()}-{'air' if domain == common_pb2.DOMAIN_AIR else 'gnd'}-{unit}",
            callsign=f"{party[:1]}{unit:02d}",
            domain=domain,
            latitude=CENTRE[0] + sign * 0.05 + radius * math.sin(angle),
            longitude=CENTRE[1] + sign * 0.05 + radius * math.cos(angle),
            altitude_m=6000.0 if domain == common_pb2.DOMAIN_AIR else 200.0,
            course_deg=math.degrees(angle) % 360,
            speed_mps=220.0 if domain == common_pb2.DOMAIN_AIR else 8.0,
        )
        position.observed_at.FromNanoseconds(int((START + step) * 1e9))
    return report


def _traffic() -> Iterator[StoredRecord]:
    """Records of the exercise, without end: one step is one second of exercise time."""
    rec = _Recorder()
    exercise = default_exercise()
    yield rec.record(
        log_pb2.RECORD_KIND_EXERCISE_STARTED,
        common_pb2.HOTLINE_UNSPECIFIED,
        "server",
        exercise=exercise.to_proto(),
    )
    for number, (party, offset) in enumerate((("BLUE", 0.1), ("RED", -0.3), ("BLUE", 0.4))):
        zone = _zone(f"zone-{number}", party, offset, zones_pb2.ZONE_STATE_ACTIVE)
        status = envelope_pb2.Envelope(
            message_id=f"srv:zone:{number}", hotline=AIR, priority=common_pb2.PRIORITY_IMMEDIATE
        )
        status.sender.hotline = AIR
        status.zone_status.zone.CopyFrom(zone)
        yield rec.envelope(status, "server", ["BLUE", "RED"])
    step = 0
    while True:
        step += 1
        rec.now = START + step
        for party in ("BLUE", "RED"):
            air = envelope_pb2.Envelope(
                message_id=f"{party}-air-{step}",
                sender=_station(party, AIR),
                hotline=AIR,
                priority=common_pb2.PRIORITY_ROUTINE,
            )
            air.position_report.CopyFrom(_positions(party, common_pb2.DOMAIN_AIR, step, 4))
            yield rec.envelope(air, _actor(party, AIR), [])
            yield _receipt(rec, air)
        if step % 3 == 0:
            for party in ("BLUE", "RED"):
                ground = envelope_pb2.Envelope(
                    message_id=f"{party}-gnd-{step}",
                    sender=_station(party, GROUND),
                    hotline=GROUND,
                    priority=common_pb2.PRIORITY_ROUTINE,
                )
                ground.position_report.CopyFrom(
                    _positions(party, common_pb2.DOMAIN_GROUND, step, 6)
                )
                yield rec.envelope(ground, _actor(party, GROUND), [])
                yield _receipt(rec, ground)
        if step % 5 == 0:
            yield from _conversation(rec, step)
        if step % 97 == 0:
            alert = acknowledgments_pb2.Alert(
                alert_id=f"srv:alert:{rec.index}",
                kind=acknowledgments_pb2.ALERT_KIND_ZONE_INCURSION
                if step % 2
                else acknowledgments_pb2.ALERT_KIND_SEPARATION_BREACH,
                summary="RED aircraft inside BLUE ROZ zone-0"
                if step % 2
                else "BLUE and RED aircraft 4,900 m apart",
                message_id=f"RED-air-{step}",
                unit_ids=["RED/red-air-1"] if step % 2 else ["BLUE/blue-air-0", "RED/red-air-2"],
                zone_ids=["zone-0"] if step % 2 else [],
                parties=["BLUE", "RED"],
                location=common_pb2.LatLon(latitude=CENTRE[0] + 0.15, longitude=CENTRE[1] + 0.15),
                distance_m=0.0 if step % 2 else 4900.0,
            )
            yield _alert(rec, AIR, alert)
        if step % 20_000 == 0:
            note = log_pb2.Annotation(
                author="trainer", text=f"phase {step // 20_000}", bookmark=f"phase-{step // 20_000}"
            )
            yield rec.record(log_pb2.RECORD_KIND_ANNOTATION, AIR, "trainer", annotation=note)


def _alert(rec: _Recorder, hotline: Hotline, alert: acknowledgments_pb2.Alert) -> StoredRecord:
    envelope = envelope_pb2.Envelope(
        message_id=alert.alert_id, hotline=hotline, priority=common_pb2.PRIORITY_FLASH
    )
    envelope.sender.hotline = hotline
    envelope.alert.CopyFrom(alert)
    return rec.envelope(envelope, "server", ["BLUE", "RED"])


def _ack(
    rec: _Recorder,
    message_id: str,
    party: str,
    kind: AckKind,
    *,
    lateness: float = 0.0,
    hotline: Hotline = GROUND,
    relayed: bool = False,
) -> StoredRecord:
    """``party``'s answer on ``hotline``; ``relayed``: the server passing on an answer
    given on GENERALS to the original's sender."""
    envelope = envelope_pb2.Envelope(
        message_id=f"{'srv:answer' if relayed else party}-ack-{message_id}-{kind}",
        sender=_station(party, hotline),
        hotline=hotline,
    )
    envelope.acknowledgment.message_id = message_id
    envelope.acknowledgment.kind = kind
    envelope.acknowledgment.responder.CopyFrom(_station(party, hotline))
    if lateness:
        envelope.acknowledgment.lateness.FromNanoseconds(int(lateness * 1e9))
    sender_side = ["RED" if party == "BLUE" else "BLUE"]
    return rec.envelope(envelope, "server" if relayed else _actor(party, hotline), sender_side)


def _receipt(rec: _Recorder, envelope: envelope_pb2.Envelope) -> StoredRecord:
    """The other party's console acknowledging receipt of ``envelope`` (the client
    library does it on hand-over)."""
    other = "RED" if envelope.sender.party == "BLUE" else "BLUE"
    return _ack(
        rec,
        envelope.message_id,
        other,
        acknowledgments_pb2.ACK_KIND_RECEIPT,
        hotline=envelope.hotline,
    )


def _conversation(rec: _Recorder, step: int) -> Iterator[StoredRecord]:
    """A BLUE request to RED on GROUND_COMMANDERS; one in ten is answered late, after
    the response deadline was missed and the message escalated to GENERALS."""
    message_id = f"BLUE-txt-{step}"
    text = envelope_pb2.Envelope(
        message_id=message_id,
        sender=_station("BLUE", GROUND),
        hotline=GROUND,
        priority=common_pb2.PRIORITY_PRIORITY,
    )
    text.text.CopyFrom(
        messages_pb2.TextMessage(text=f"request hold fires grid 37S EV {step:06d}", language="en")
    )
    yield rec.envelope(text, _actor("BLUE", GROUND), ["RED"])
    rec.now += 0.4
    yield _ack(rec, message_id, "RED", acknowledgments_pb2.ACK_KIND_RECEIPT)
    if (step // 5) % 10:
        rec.now += 1.5
        yield _ack(rec, message_id, "RED", acknowledgments_pb2.ACK_KIND_WILCO)
        return
    rec.now += 2.0
    missed = log_pb2.DeadlineMissed(
        message_id=message_id,
        station=_station("RED", GROUND),
        deadline=log_pb2.DEADLINE_KIND_RESPONSE,
        station_online=True,
    )
    missed.due_at.FromNanoseconds(int(rec.now * 1e9))
    yield rec.record(
        log_pb2.RECORD_KIND_DEADLINE_MISSED, GROUND, "server", message_id, deadline_missed=missed
    )
    overdue = acknowledgments_pb2.Alert(
        alert_id=f"srv:alert:{rec.index}",
        kind=acknowledgments_pb2.ALERT_KIND_ACK_OVERDUE,
        summary="RED/GROUND_COMMANDERS has not answered",
        message_id=message_id,
        station=_station("RED", GROUND),
        parties=["RED"],
    )
    yield _alert(rec, GROUND, overdue)
    rec.now += 1.0
    escalated = acknowledgments_pb2.Alert(
        alert_id=f"srv:alert:{rec.index}",
        kind=acknowledgments_pb2.ALERT_KIND_ESCALATED,
        summary="escalated to GENERALS",
        message_id=message_id,
        station=_station("RED", GROUND),
        parties=["BLUE", "RED"],
    )
    yield _alert(rec, GROUND, escalated)
    copy = envelope_pb2.Envelope(
        message_id=f"srv:esc:{message_id}",
        hotline=GENERALS,
        priority=common_pb2.PRIORITY_FLASH,
        escalation_of=message_id,
    )
    copy.sender.CopyFrom(_station("BLUE", GROUND))
    copy.text.CopyFrom(text.text)
    yield rec.envelope(copy, "server", ["RED"])
    rec.now += 0.5
    roger = acknowledgments_pb2.ACK_KIND_ROGER
    yield _ack(rec, copy.message_id, "RED", roger, hotline=GENERALS)
    yield _ack(rec, message_id, "RED", roger, lateness=1.5, relayed=True)


def write_exercise_log(path: Path, count: int) -> None:
    """Writes a signed log of ``count`` records (the last is SERVER_STOPPED) to ``path``,
    replacing any file there."""
    path.unlink(missing_ok=True)
    backend = open_backend(str(path), durable=False)
    trail = AuditTrail(SIGNER, ORIGIN, CheckpointPolicy(1000, 3600.0))
    batch: list[StoredRecord] = []
    traffic = _traffic()
    for _ in range(count - 1):
        batch.append(next(traffic))
        if len(batch) == 20_000:
            backend.append(batch, *trail.seal(batch))
            batch = []
    last = log_pb2.LogRecord(
        index=count - 1, kind=log_pb2.RECORD_KIND_SERVER_STOPPED, actor="server"
    )
    last.recorded_at.FromNanoseconds(int((START + count) * 1e9))
    batch.append(StoredRecord(count - 1, last.kind, 0, 0, last.SerializeToString()))
    backend.append(batch, *trail.seal(batch))
    backend.close()


def exercise_log(path: Path, count: int) -> Path:
    """``path``, written first unless it already holds ``count`` records."""
    if path.exists():
        backend = open_backend(str(path), durable=False, create=False)
        try:
            if backend.size() == count:
                return path
        finally:
            backend.close()
    write_exercise_log(path, count)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    started = time.perf_counter()
    write_exercise_log(args.out, args.records)
    print(
        f"{args.records:,} records in {time.perf_counter() - started:.1f} s; key {VERIFIER_KEY}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
