"""An exercise's switchboard in the test's event loop, with a clock the test moves.

``Drill`` runs :class:`~hotline.server.switchboard.Switchboard` on a real SQLite log in a
temporary directory (signed like a server's), with consoles opened the way the gRPC
session opens them but read directly, and a fake clock: ``await drill.advance(3)`` moves
exercise time on by three seconds and fires what fell due, so deadline and escalation
logic is tested without a network and without waiting. ``await drill.restart()`` stops
the switchboard cleanly and starts a new one on the same log, as ``hotline serve`` does.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

from hotline.server.audit.stored import verify_stored_log
from hotline.server.audit.trail import AuditTrail, CheckpointPolicy, load_or_create_signer
from hotline.server.audit.verify import VerificationReport
from hotline.server.checks import LocalChecks
from hotline.server.consoles import Console
from hotline.server.exercise import Exercise, default_exercise
from hotline.server.identity import Credential
from hotline.server.storage import open_backend
from hotline.server.switchboard import Switchboard
from hotline.testing.harness import uniform_policy
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    log_pb2,
    messages_pb2,
    services_pb2,
)

AIR = common_pb2.HOTLINE_AIR_OPERATIONS
GROUND = common_pb2.HOTLINE_GROUND_COMMANDERS
GENERALS = common_pb2.HOTLINE_GENERALS
A = acknowledgments_pb2

#: RECEIPT within 1 s and an operator response within 2 s, for every priority.
DRILL_POLICY = uniform_policy(1.0, 2.0)


class FakeClock:
    """UNIX seconds that move only when the test says so."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class DrillConsole:
    """One station console: what the switchboard has delivered to it so far."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.deliveries: list[envelope_pb2.Envelope] = []

    def take(self) -> list[envelope_pb2.Envelope]:
        """Reads what is ready; returns the deliveries new since the last call."""
        new: list[envelope_pb2.Envelope] = []
        while responses := self.console.ready_responses():
            for data in responses:
                response = services_pb2.SessionResponse.FromString(data)
                if response.WhichOneof("response") == "deliveries":
                    new.extend(response.deliveries.envelopes)
        self.deliveries.extend(new)
        return new

    def received(
        self, predicate: Callable[[envelope_pb2.Envelope], bool]
    ) -> list[envelope_pb2.Envelope]:
        self.take()
        return [e for e in self.deliveries if predicate(e)]


class Drill:
    """A switchboard with a fake clock on a real, signed SQLite log."""

    def __init__(
        self,
        data_dir: Path,
        exercise: Exercise | None = None,
        clock: FakeClock | None = None,
        *,
        deconfliction: bool = False,
        snapshot_every: int = 5_000,
    ) -> None:
        self.data_dir = data_dir
        self.exercise = exercise or default_exercise(DRILL_POLICY)
        self.clock = clock or FakeClock()
        self.deconfliction = deconfliction
        self.snapshot_every = snapshot_every
        self.signer = load_or_create_signer(data_dir / "signing.key", "drill.example/hotline")
        self.sent = 0
        self._switchboard: Switchboard | None = None

    @property
    def switchboard(self) -> Switchboard:
        assert self._switchboard is not None, "the drill is not running"
        return self._switchboard

    async def start(self) -> None:
        backend = open_backend(str(self.data_dir / "hotline.sqlite"))
        trail = AuditTrail(self.signer, "drill.example/hotline", CheckpointPolicy(10_000, 3600))
        checks = LocalChecks(self.exercise.policy.separation) if self.deconfliction else None
        switchboard = Switchboard(
            self.exercise,
            backend,
            checks=checks,
            clock=self.clock,
            trail=trail,
            snapshot_every=self.snapshot_every,
        )
        switchboard.recover()
        switchboard.start()
        self._switchboard = switchboard
        await switchboard.flush()

    async def stop(self) -> None:
        if self._switchboard is not None:
            await self._switchboard.close()
            self._switchboard = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def copy(self, data_dir: Path) -> Drill:
        """What is on disk now, as a server killed now would leave it, in another
        directory: a drill to start on it (same clock time, not shared)."""
        shutil.copytree(self.data_dir, data_dir)
        copy = Drill(
            data_dir,
            self.exercise,
            FakeClock(self.clock.now),
            deconfliction=self.deconfliction,
            snapshot_every=self.snapshot_every,
        )
        copy.sent = self.sent
        return copy

    def forget_snapshots(self) -> None:
        """Removes the stored snapshots (the drill must be stopped): the next start
        reads the whole log."""
        with contextlib.closing(sqlite3.connect(self.data_dir / "hotline.sqlite")) as db:
            db.execute("DELETE FROM snapshots")
            db.commit()

    async def __aenter__(self) -> Drill:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ stations

    @staticmethod
    def credential(
        party: str, hotline: common_pb2.Hotline.ValueType, *, standby: bool = False
    ) -> Credential:
        return Credential(
            subject=f"{party} operator",
            role=common_pb2.ROLE_PARTICIPANT,
            party=party,
            hotline=hotline,
            operator=common_pb2.OPERATOR_STANDBY if standby else common_pb2.OPERATOR_PRIMARY,
        )

    @staticmethod
    def control_credential() -> Credential:
        return Credential(subject="trainer", role=common_pb2.ROLE_EXERCISE_CONTROL)

    async def connect(
        self, party: str, hotline: common_pb2.Hotline.ValueType, *, standby: bool = False
    ) -> DrillConsole:
        console, _ = await self.switchboard.open_console(
            self.credential(party, hotline, standby=standby), "drill", None, ()
        )
        return DrillConsole(console)

    def disconnect(self, console: DrillConsole) -> None:
        self.switchboard.close_console(console.console, "the drill hung up")

    def _new_id(self) -> int:
        self.sent += 1
        return self.sent

    def envelope(
        self,
        party: str,
        hotline: common_pb2.Hotline.ValueType,
        priority: common_pb2.Priority.ValueType = common_pb2.PRIORITY_FLASH,
        message_id: str = "",
    ) -> envelope_pb2.Envelope:
        envelope = envelope_pb2.Envelope(
            message_id=message_id or f"{party.lower()}-{self._new_id()}",
            sender=common_pb2.StationRef(party=party, hotline=hotline),
            hotline=hotline,
            priority=priority,
        )
        envelope.sent_at.FromNanoseconds(int(self.clock() * 1e9))
        return envelope

    async def submit(
        self,
        envelope: envelope_pb2.Envelope,
        credential: Credential | None = None,
        *,
        standby: bool = False,
    ) -> services_pb2.SendResult:
        """Submits as the sender's station (or ``credential``); the result once durable."""
        credential = credential or self.credential(
            envelope.sender.party, envelope.hotline, standby=standby
        )
        results: list[services_pb2.SendResult] = []
        self.switchboard.submit(credential, envelope, results.append)
        await self.settle()
        assert results, f"no result for {envelope.message_id!r}"
        return results[0]

    async def text(
        self,
        party: str,
        hotline: common_pb2.Hotline.ValueType,
        text: str = "Strike package over Deir Ezzor at 0600Z",
        priority: common_pb2.Priority.ValueType = common_pb2.PRIORITY_FLASH,
    ) -> envelope_pb2.Envelope:
        """Sends a text message; returns it as sent (with its sequence number)."""
        envelope = self.envelope(party, hotline, priority)
        envelope.text.CopyFrom(messages_pb2.TextMessage(text=text))
        result = await self.submit(envelope)
        assert result.code == 0, result.error
        envelope.sequence = result.sequence
        return envelope

    async def answer(
        self,
        party: str,
        hotline: common_pb2.Hotline.ValueType,
        message_id: str,
        kind: acknowledgments_pb2.AckKind.ValueType,
        *,
        standby: bool = False,
    ) -> services_pb2.SendResult:
        envelope = self.envelope(party, hotline)
        envelope.acknowledgment.CopyFrom(A.Acknowledgment(message_id=message_id, kind=kind))
        return await self.submit(envelope, standby=standby)

    # ------------------------------------------------------------------ time and the log

    async def advance(self, seconds: float) -> None:
        """Moves the clock on, firing each deadline at its own moment, and waits until
        what that recorded is durable and delivered."""
        end = self.clock.now + seconds
        while True:
            due = self.switchboard.next_deadline()
            if due is None or due > end:
                break
            self.clock.now = max(self.clock.now, due)
            self.switchboard.fire_due()
            await self.settle()
        self.clock.now = end
        await self.settle()

    async def settle(self) -> None:
        """Waits until what was recorded is durable and delivered, taking a snapshot when
        one is due, as the server's own task does."""
        await self.switchboard.flush()
        await self.switchboard.snapshot_if_due()
        await self.switchboard.flush()

    async def records(self) -> list[log_pb2.LogRecord]:
        stored = await self.switchboard.records(0)
        return [log_pb2.LogRecord.FromString(s.data) for s in stored]

    def verify(self) -> VerificationReport:
        """``hotline audit verify`` on the log as it is (the drill must be stopped)."""
        backend = open_backend(str(self.data_dir / "hotline.sqlite"), create=False)
        try:
            return verify_stored_log(backend, self.signer.verifier)
        finally:
            backend.close()


def alerts(records: Iterable[log_pb2.LogRecord], kind: int) -> list[acknowledgments_pb2.Alert]:
    return [
        r.envelope.alert
        for r in records
        if r.kind == log_pb2.RECORD_KIND_ENVELOPE
        and r.envelope.WhichOneof("body") == "alert"
        and r.envelope.alert.kind == kind
    ]


def envelopes(
    records: Iterable[log_pb2.LogRecord], predicate: Callable[[envelope_pb2.Envelope], bool]
) -> list[envelope_pb2.Envelope]:
    return [
        r.envelope
        for r in records
        if r.kind == log_pb2.RECORD_KIND_ENVELOPE and predicate(r.envelope)
    ]
