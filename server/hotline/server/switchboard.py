"""The switchboard: every envelope is recorded first, then delivered, then answered.

An accepted envelope is appended to the log, gets the next sequence number of its
hotline, and only after the log reports it durable is it delivered to every other
station on the hotline (FLASH first) and confirmed to its sender. The state here —
sequence numbers, who owes which answer, zones, suspended lines — is rebuilt from the
log at start-up by :meth:`Switchboard.recover` applying the same records in the same
way, so every pending deadline survives a crash and fires (late ones at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp

from hotline.contract import (
    RECORDED_FIELDS,
    RESPONSES,
    SERVER_ID_PREFIX,
    UNACKNOWLEDGED,
    duration,
    escalation_id,
    seconds,
    set_timestamp,
    status_number,
    timestamp,
)
from hotline.server import wire
from hotline.server.acknowledgments import (
    DeadlineKey,
    TrackedMessage,
)
from hotline.server.audit.trail import AuditTrail
from hotline.server.authority import authorize, authorize_replay
from hotline.server.checks import (
    OBSERVED,
    Cause,
    Checks,
    Finding,
    raised_alert,
    validate_envelope,
)
from hotline.server.consoles import Console, Delivery
from hotline.server.deadlines import DeadlineTimer
from hotline.server.envelope_checks import MAX_CLOCK_AHEAD_S, check_envelope
from hotline.server.errors import (
    AlreadyExists,
    FailedPrecondition,
    HotlineError,
    InvalidArgument,
    OutOfRange,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from hotline.server.escalation import (
    STAGE_KIND,
    Chains,
    Consequence,
    Rules,
    TimerChanges,
)
from hotline.server.exercise import (
    EXERCISE_CONTROL,
    HOTLINES,
    Exercise,
    Hotline,
    hotline_name,
)
from hotline.server.identity import Credential, Operator
from hotline.server.message_ids import KnownMessage, MessageIds, content_digest, message_key
from hotline.server.missed_alerts import MissedAlerts
from hotline.server.record_log import RecordLog
from hotline.server.refusal_limits import RefusalGate, suppressed_note
from hotline.server.snapshot import (
    FILTER_RECORDS,
    SNAPSHOT_BYTES_PER_RECORD,
    SNAPSHOT_RECORDS,
    LiveState,
)
from hotline.server.status_board import hotline_statuses, station_statuses
from hotline.server.storage import Backend, StoredRecord
from hotline.server.watchers import Watchers
from hotline.server.zone_book import ZoneBook
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    exercise_pb2,
    log_pb2,
    services_pb2,
    zones_pb2,
)

log = logging.getLogger(__name__)

Reply = Callable[[services_pb2.SendResult], None]
SERVER = "server"

#: LogRecord.envelope's field number.
_RECORD_ENVELOPE = log_pb2.LogRecord.ENVELOPE_FIELD_NUMBER


# Not frozen: one is made for every envelope recorded, and a frozen dataclass's __init__ costs
# several times a plain one's.
@dataclass(slots=True)
class _Outgoing:
    """A hotline envelope recorded but not yet durable."""

    message_id: str
    hotline: Hotline
    audience: frozenset[str]
    delivery: Delivery


def _digest_of(envelope: envelope_pb2.Envelope) -> int:
    """The content digest a recorded envelope was accepted with (0 for the server's)."""
    return 0 if envelope.message_id.startswith(SERVER_ID_PREFIX) else content_digest(envelope)


def _result(message_id: str, sequence: int = 0, duplicate: bool = False) -> services_pb2.SendResult:
    return services_pb2.SendResult(message_id=message_id, sequence=sequence, duplicate=duplicate)


def refusal(message_id: str, error: HotlineError) -> services_pb2.SendResult:
    return services_pb2.SendResult(
        message_id=message_id, code=status_number(error.code), error=error.message
    )


class Switchboard:
    """Routes one exercise's hotline traffic and keeps its deadlines."""

    def __init__(
        self,
        exercise: Exercise,
        backend: Backend,
        *,
        checks: Checks | None = None,
        clock: Callable[[], float] = time.time,
        trail: AuditTrail | None = None,
        snapshot_every: int = SNAPSHOT_RECORDS,
    ) -> None:
        self.exercise = exercise
        self._policy = exercise.policy
        self._clock = clock
        self._checks = checks
        self._log = RecordLog(backend, self._committed, self._log_failed, trail)
        self._rules = Rules.of(exercise)
        self._exercise_bytes = exercise.to_proto().SerializeToString(deterministic=True)
        self._snapshot_every = snapshot_every
        self._next_snapshot = snapshot_every
        self._snapshot_due = asyncio.Event()
        self._closed_log = False
        #: Where :meth:`recover` started reading the log: the snapshot's index, or 0.
        self.recovered_from = 0
        self._chains = Chains(self._rules)
        self._tracker = self._chains.tracker
        self._zones = ZoneBook()
        self._timer: DeadlineTimer[DeadlineKey] = DeadlineTimer(self._deadline_due, clock)
        self._next_index = 0
        self._last_sequence: dict[Hotline, int] = dict.fromkeys(HOTLINES, 0)
        self._message_ids = MessageIds(self._find_message)
        # Serialised envelopes of messages still owed something (for re-delivery and
        # escalation), dropped once every recipient has answered.
        self._envelopes: dict[str, bytes] = {}
        self._outgoing: dict[int, _Outgoing] = {}
        self._waiting: dict[str, list[Reply]] = {}
        self._consoles: dict[Hotline, dict[str, set[Console]]] = {h: {} for h in HOTLINES}
        self._watchers = Watchers(self._log.records)
        # Called with every committed batch, in log order (e.g. the MQTT bridge).
        self._listeners: list[Callable[[list[StoredRecord]], None]] = []
        self._suspended: dict[Hotline, str] = {}
        #: The party whose station suspended a hotline ("" for exercise control).
        self._suspended_by: dict[Hotline, str] = {}
        # Bookmark names and the index of the annotation that set each: a name marks one
        # place of the log, so it is set once.
        self._bookmarks: dict[str, int] = {}
        self._parties_on = self._rules.parties_on
        self._line_tests = 0
        self._closing = False
        # Whether a station message is being recorded: what the checks find meanwhile
        # is raised after it.
        self._recording = False
        # Findings that came while a message was being recorded, raised after it.
        self._findings: list[tuple[Cause, list[Finding]]] = []
        # Until the checks have taken in the log read back: the alerts a crash lost.
        self._missed = MissedAlerts(self._parties_on) if checks is not None else None
        self._live = False
        self._failure: BaseException | None = None
        self.failed = asyncio.Event()
        if checks is not None:
            checks.bind(self._found, self._log_failed)

    # ------------------------------------------------------------------ lifecycle

    def recover(self) -> int:
        """Rebuilds the state: from the latest snapshot and the records after it, or
        from the whole log; returns the log's size."""
        missed = self._missed
        found = self._log.latest_snapshot(self._exercise_bytes)
        if found is not None:
            self._restore(found)
        start = self.recovered_from = self._next_index
        # Every record read back is durable: the log finds its id.
        self._message_ids.durable(sys.maxsize)
        # The station message the records read back are about: what the server recorded
        # after one, it recorded about it.
        cause: Cause | None = None
        for stored in self._log.recover(start):
            record = log_pb2.LogRecord.FromString(stored.data)
            if missed is not None:
                missed.saw(record)
            envelope = record.envelope
            if record.kind == log_pb2.RECORD_KIND_ENVELOPE and not envelope.message_id.startswith(
                SERVER_ID_PREFIX
            ):
                at = seconds(envelope.recorded_at)
                cause = Cause(envelope.hotline, envelope.message_id, at, recovered=True)
            self._apply(record, cause)
            self._next_index = stored.index + 1
            if record.kind == log_pb2.RECORD_KIND_EXERCISE_STARTED:
                self._line_tests = 0
        self._message_ids.durable(self._next_index)
        self._next_snapshot = self._next_index + self._snapshot_every
        log.info(
            "recovered %d records (%d read after the snapshot), %d deadlines pending",
            self._next_index,
            self._next_index - start,
            len(self._timer),
        )
        return self._next_index

    # ------------------------------------------------------------------ snapshots

    def _switchboard_state(self) -> bytes:
        """What :meth:`recover` would rebuild from the records so far, pickled."""
        state = {
            "next_index": self._next_index,
            "last_sequence": self._last_sequence,
            "line_tests": self._line_tests,
            "suspended": self._suspended,
            "suspended_by": self._suspended_by,
            "chains": self._chains,
            "zones": self._zones,
            "envelopes": self._envelopes,
            "bookmarks": self._bookmarks,
        }
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    def _restore(self, live: LiveState) -> None:
        state = pickle.loads(live.switchboard)
        chains: Chains = state["chains"]
        chains.rules = self._rules
        self._chains, self._tracker = chains, chains.tracker
        self._next_index = state["next_index"]
        self._last_sequence = state["last_sequence"]
        self._line_tests = state["line_tests"]
        self._suspended = state["suspended"]
        self._suspended_by = state["suspended_by"]
        self._zones = state["zones"]
        self._envelopes = state["envelopes"]
        self._bookmarks = state["bookmarks"]
        self._message_ids.restore(live.message_ids, live.index, live.keys_since_filter)
        for key, due in chains.pending():
            self._timer.schedule(key, due)
        if self._checks is not None:
            self._checks.restore(live.checks)

    async def snapshot(self) -> None:
        """Stores the live state as it stands now (see :mod:`hotline.server.snapshot`),
        once the deconfliction checks have caught up with it."""
        if self._failure is not None or self._closed_log:
            return
        index = self._next_index
        switchboard = self._switchboard_state()
        # The filter of message ids goes with a snapshot only every FILTER_RECORDS
        # records; the others name the stored snapshot that has it.
        held = self._log.filter_stored
        filter_at = held if held is not None and index - held < FILTER_RECORDS else None
        message_ids = self._message_ids.state(with_filter=filter_at is None)
        # The ids' filter is one block of bytes of a fixed size, written as it is (no
        # pickling): what it costs a record does not grow, so it does not space them.
        spacing = len(switchboard) // SNAPSHOT_BYTES_PER_RECORD
        self._next_snapshot = index + max(self._snapshot_every, spacing)
        checks = await self._checks.snapshot() if self._checks is not None else b""
        # What the checks found up to the snapshot is recorded before it is stored.
        self._raise_findings()
        live = LiveState(index, self._exercise_bytes, switchboard, checks, message_ids, filter_at)
        self._log.append_snapshot(live)

    async def snapshot_if_due(self) -> None:
        """Takes a snapshot if :data:`~hotline.server.snapshot.SNAPSHOT_RECORDS` records
        (or the configured count) were appended since the last one."""
        if self._next_index >= self._next_snapshot:
            await self.snapshot()

    async def _keep_snapshots(self) -> None:
        while True:
            await self._snapshot_due.wait()
            self._snapshot_due.clear()
            await self.snapshot_if_due()

    def start(self) -> None:
        """Starts the log writer and records the exercise the server runs."""
        self._live = True
        self._watchers.begin(self._next_index)
        self._log.start(self._next_index)
        self._append(
            self._new_record(
                log_pb2.RECORD_KIND_EXERCISE_STARTED,
                common_pb2.HOTLINE_UNSPECIFIED,
                SERVER,
                exercise=self.exercise.to_proto(),
            )
        )

    async def raise_missed_alerts(self) -> int:
        """After :meth:`start`: waits until the checks have taken in the log read back,
        then raises the deconfliction alerts a crash kept from being recorded (see
        :mod:`hotline.server.missed_alerts`); returns how many."""
        if self._checks is None or self._missed is None:
            return 0
        await self._checks.settle()
        missed, self._missed = self._missed.missed(), None
        for raised in missed:
            self._alert(raised.hotline, raised.alert, raised.audience)
        if missed:
            log.warning("raised %d alerts a crash kept from being recorded", len(missed))
        return len(missed)

    async def run(self) -> None:
        """Fires deadlines and line tests until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._timer.run(), name="deadlines")
            tasks.create_task(self._test_lines(), name="line-tests")
            tasks.create_task(self._keep_snapshots(), name="snapshots")

    def next_deadline(self) -> float | None:
        """When the earliest pending deadline falls due, if any."""
        return self._timer.next_due()

    def fire_due(self) -> int:
        """Fires every deadline due by the clock now; :meth:`run` does this as time
        passes, a test with a fake clock calls it directly. Returns how many fired."""
        return self._timer.fire_due()

    def begin_shutdown(self) -> None:
        """Ends every session; stations going away now are not reported offline."""
        self._closing = True
        self._watchers.stop()
        for console in [*self._all_consoles(), *self._watchers]:
            console.close("the server is shutting down", Unavailable)

    async def close(self) -> None:
        """Raises what the checks still find, records the stop, and flushes and closes
        the log."""
        self.begin_shutdown()
        if self._checks is not None:
            await self._checks.settle()
        if self._failure is None:
            self._append(
                self._new_record(
                    log_pb2.RECORD_KIND_SERVER_STOPPED, common_pb2.HOTLINE_UNSPECIFIED, SERVER
                )
            )
            # A clean restart then reads no record at all.
            with contextlib.suppress(HotlineError, TimeoutError):
                await self.snapshot()
        if self._checks is not None:
            await self._checks.close()
        self._closed_log = True
        await self._log.close()

    async def flush(self) -> None:
        await self._log.flush()

    def _log_failed(self, error: BaseException) -> None:
        self._failure = error
        self.failed.set()

    # ------------------------------------------------------------------ records

    def _new_record(
        self,
        kind: log_pb2.RecordKind.ValueType,
        hotline: Hotline,
        actor: str,
        correlation_id: str = "",
        **payload: object,
    ) -> log_pb2.LogRecord:
        record = log_pb2.LogRecord(
            index=self._next_index,
            kind=kind,
            hotline=hotline,
            actor=actor,
            correlation_id=correlation_id,
            **payload,  # type: ignore[arg-type]
        )
        set_timestamp(record.recorded_at, self._clock())
        return record

    def _append(self, record: log_pb2.LogRecord, sequence: int = 0) -> StoredRecord:
        stored = StoredRecord(
            record.index, record.kind, record.hotline, sequence, record.SerializeToString()
        )
        self._next_index += 1
        self._apply(record)
        self._log.append(stored)
        if self._next_index >= self._next_snapshot:
            self._snapshot_due.set()
        return stored

    def _record_envelope(
        self,
        envelope: envelope_pb2.Envelope,
        actor: str,
        audience: Iterable[str] = (),
        reply: Reply | None = None,
        *,
        digest: int = 0,
        key: int | None = None,
        cause: Cause | None = None,
        validated: bool = False,
    ) -> None:
        """Records ``envelope`` and delivers it once durable. ``digest``: its content
        digest (a station's); ``key``: its id's message key, if worked out already;
        ``cause`` and ``validated``: see :meth:`_apply_envelope`."""
        hotline = envelope.hotline
        sequence = self._last_sequence[hotline] + 1
        envelope.sequence = sequence
        envelope.audience[:] = sorted(audience)
        header = self._new_record(log_pb2.RECORD_KIND_ENVELOPE, hotline, actor, envelope.message_id)
        envelope.recorded_at.CopyFrom(header.recorded_at)
        payload = envelope.SerializeToString()
        # Fields serialise in number order, so the header's bytes followed by the envelope
        # field are exactly the LogRecord's bytes, without copying the envelope into it.
        data = header.SerializeToString() + wire.length_delimited(_RECORD_ENVELOPE, payload)
        flash = envelope.priority == common_pb2.PRIORITY_FLASH
        self._outgoing[header.index] = _Outgoing(
            envelope.message_id,
            hotline,
            self._audience(envelope),
            Delivery.of(sequence, flash, payload),
        )
        if reply is not None:
            self._waiting[envelope.message_id] = [reply]
        self._next_index += 1
        if self._next_index >= self._next_snapshot:
            self._snapshot_due.set()
        if key is None:
            key = message_key(envelope.message_id)
        self._apply_envelope(
            envelope, header.index, payload, digest, key, cause=cause, validated=validated
        )
        self._log.append(StoredRecord(header.index, header.kind, hotline, sequence, data, key))

    def _committed(self, batch: list[StoredRecord]) -> None:
        """Delivers what just became durable, in log order."""
        self._message_ids.durable(batch[-1].index + 1)
        self._watchers.committed(batch)
        for stored in batch:
            outgoing = self._outgoing.pop(stored.index, None)
            if outgoing is None:
                continue
            for party, consoles in self._consoles[outgoing.hotline].items():
                if party in outgoing.audience:
                    for console in consoles:
                        console.deliver(outgoing.delivery)
            for reply in self._waiting.pop(outgoing.message_id, ()):
                reply(_result(outgoing.message_id, outgoing.delivery.sequence))
        for listener in self._listeners:
            listener(batch)

    def add_listener(self, listener: Callable[[list[StoredRecord]], None]) -> None:
        """Calls ``listener`` in the event loop with every batch of records that becomes
        durable from now on, in log order. It must not block: it runs on the path that
        delivers to the stations."""
        self._listeners.append(listener)

    async def records(self, start: int, end: int | None = None) -> list[StoredRecord]:
        """Stored records with ``start <= index < end``, read in a worker thread."""
        return await self._log.records(start, end)

    # ------------------------------------------------------------------ state

    def _apply(self, record: log_pb2.LogRecord, cause: Cause | None = None) -> None:
        """Applies one record to the state: the same code live and in recovery (where
        ``cause`` is the station message it came about)."""
        kind = record.kind
        if kind == log_pb2.RECORD_KIND_ENVELOPE:
            envelope = record.envelope
            digest = _digest_of(envelope)
            self._apply_envelope(envelope, record.index, None, digest, cause=cause)
        elif kind == log_pb2.RECORD_KIND_DEADLINE_MISSED:
            # Read back at start-up, the deadline is still armed by the message's record:
            # the changes cancel it.
            self._retime(self._chains.missed(record.deadline_missed))
        elif kind == log_pb2.RECORD_KIND_HOTLINE_SUSPENDED:
            self._suspended[record.hotline] = record.annotation.text
            self._suspended_by[record.hotline] = _party_of(record.actor)
            self._retime(self._chains.suspend(record.hotline, seconds(record.recorded_at)))
        elif kind == log_pb2.RECORD_KIND_HOTLINE_RESUMED:
            self._suspended.pop(record.hotline, None)
            self._suspended_by.pop(record.hotline, None)
            self._retime(self._chains.resume(record.hotline, seconds(record.recorded_at)))
        elif kind == log_pb2.RECORD_KIND_ANNOTATION and record.annotation.bookmark:
            self._bookmarks.setdefault(record.annotation.bookmark, record.index)

    def _find_message(self, key: int, message_id: str) -> KnownMessage | None:
        """What the log says of ``message_id``, no longer held in memory, stored with
        ``key`` (None if no record carries it)."""
        for stored in self._log.with_message_key(key):
            envelope = log_pb2.LogRecord.FromString(stored.data).envelope
            if envelope.message_id == message_id:
                return KnownMessage(
                    envelope.sender.party,
                    envelope.hotline,
                    envelope.sequence,
                    _digest_of(envelope),
                    stored.index,
                )
        return None

    def _retime(self, changes: TimerChanges) -> None:
        """Applies what a recorded fact means for the deadlines."""
        for key in changes.cancel:
            self._timer.cancel(key)
        for key, due in changes.arm:
            self._timer.schedule(key, due)
        for message_id in changes.settled:
            self._envelopes.pop(message_id, None)

    def _apply_envelope(
        self,
        envelope: envelope_pb2.Envelope,
        index: int,
        payload: bytes | None,
        digest: int,
        key: int | None = None,
        *,
        cause: Cause | None = None,
        validated: bool = False,
    ) -> None:
        """Applies hotline traffic recorded as record ``index`` to the state (``key``:
        its id's message key, if known) and shows it to the checks: ``cause`` is the
        station message it came about, ``validated`` whether its geometry was checked."""
        hotline = envelope.hotline
        at = seconds(envelope.recorded_at)
        self._last_sequence[hotline] = envelope.sequence
        known = KnownMessage(envelope.sender.party, hotline, envelope.sequence, digest, index)
        self._message_ids.add(envelope.message_id, known, key)
        body = envelope.WhichOneof("body")
        if body == "zone_status":
            self._zones.apply(envelope.zone_status.zone)
        elif body not in UNACKNOWLEDGED:
            # Kept for re-delivery and escalation while anybody owes it something.
            self._envelopes[envelope.message_id] = payload or envelope.SerializeToString()
        self._retime(self._chains.envelope(envelope, at))
        # An escalated copy was checked as the original already.
        if self._checks is not None and body in OBSERVED and not envelope.escalation_of:
            self._checks.observe(
                envelope,
                payload or envelope.SerializeToString(),
                body,
                at,
                validated=validated,
                cause=cause,
            )

    def _audience(self, envelope: envelope_pb2.Envelope) -> frozenset[str]:
        return self._rules.audience(envelope)

    # ------------------------------------------------------------------ traffic

    def submit(self, credential: Credential, envelope: envelope_pb2.Envelope, reply: Reply) -> None:
        """Accepts (or refuses) one envelope from a station; ``reply`` gets the outcome
        once the envelope is durable (or at once for a refusal or a duplicate)."""
        try:
            self._accept(credential, envelope, reply)
        except HotlineError as error:
            self.record_refusal(credential, error, "Send", envelope.message_id)
            reply(refusal(envelope.message_id, error))

    def record_refusal(
        self,
        credential: Credential | None,
        error: HotlineError,
        method: str,
        message_id: str = "",
        *,
        peer: str = "",
    ) -> None:
        """Records a refused request (authentication, permission, validation, state):
        at once while its source (the station, else the connection ``peer``) is within
        its budget, else counted into a later record (see :mod:`refusal_limits`)."""
        if self._failure is not None:
            return
        actor = credential.station_label if credential else "anonymous"
        source = actor if credential else peer or actor
        message_id = message_id[:128]

        def write(suppressed: int) -> None:
            refused = log_pb2.RefusedRequest(
                code=error.code.name,
                detail=error.message + suppressed_note(source, suppressed),
                subject=credential.subject if credential else "",
                method=method,
                message_id=message_id,
            )
            self._append(
                self._new_record(
                    log_pb2.RECORD_KIND_REQUEST_REFUSED,
                    credential.hotline if credential else common_pb2.HOTLINE_UNSPECIFIED,
                    actor,
                    message_id,
                    refused_request=refused,
                )
            )

        gate: RefusalGate | None = getattr(self, "_refusal_gate", None)
        if gate is None:
            gate = self._refusal_gate = RefusalGate()
        gate.offer(source, write)

    def _accept(
        self, credential: Credential, envelope: envelope_pb2.Envelope, reply: Reply
    ) -> None:
        if self._failure is not None:
            raise Unavailable("the server cannot record traffic; try again later")
        now = self._clock()
        # Exercise control may re-inject recorded traffic as the station that sent it.
        replay = bool(envelope.replay_of) and credential.may_control
        body = check_envelope(envelope, now, replay=replay)
        if replay:
            authorize_replay(self.exercise, envelope)
        else:
            authorize(credential, envelope)
        message_id = envelope.message_id
        digest = content_digest(envelope)
        key = message_key(message_id)
        known = self._message_ids.get(message_id, key)
        if known is not None:
            self._duplicate(envelope, known, digest, reply)
            return
        hotline = envelope.hotline
        if hotline in self._suspended:
            raise FailedPrecondition(
                f"hotline: {hotline_name(hotline)} is suspended by exercise control "
                f"({self._suspended[hotline] or 'no reason given'})"
            )
        party = envelope.sender.party
        actor = credential.station_label
        if body == "acknowledgment":
            self._accept_acknowledgment(envelope, credential, now, reply, digest=digest, key=key)
            return
        zone_changes: list[zones_pb2.Zone] = []
        if body.startswith("zone_"):
            zone_changes = self._zones.changes(party, envelope, body)
        # Geometry is checked whether or not the deconfliction checks run: what is
        # recorded must be what they could read.
        validate_envelope(envelope, body, zone_changes)
        cause = Cause(hotline, message_id, now)
        self._recording = True
        try:
            self._record_envelope(
                envelope, actor, reply=reply, digest=digest, key=key, cause=cause, validated=True
            )
            for zone in zone_changes:
                self._announce_zone(zone, hotline, cause)
        finally:
            self._recording = False
        self._raise_findings()

    def _duplicate(
        self,
        envelope: envelope_pb2.Envelope,
        known: KnownMessage,
        digest: int,
        reply: Reply,
    ) -> None:
        message_id = envelope.message_id
        sequence = known.sequence
        if known.sender != envelope.sender.party or known.hotline != envelope.hotline:
            raise AlreadyExists(
                f"message_id: {message_id!r} is already used by another message; "
                "choose a new id for a new message"
            )
        if known.digest != digest:
            raise AlreadyExists(
                f"message_id: {message_id!r} was recorded as #{sequence} on "
                f"{hotline_name(known.hotline)} with other content; a retry must repeat "
                "the message exactly: choose a new id for a new message"
            )
        waiting = self._waiting.get(message_id)
        if waiting is not None:
            waiting.append(lambda r: reply(_result(r.message_id, r.sequence, duplicate=True)))
        else:
            reply(_result(message_id, sequence, duplicate=True))

    def _accept_acknowledgment(
        self,
        envelope: envelope_pb2.Envelope,
        credential: Credential,
        now: float,
        reply: Reply,
        *,
        digest: int,
        key: int,
    ) -> None:
        party = envelope.sender.party
        actor = credential.station_label
        ack = envelope.acknowledgment
        if self._tracker.get(ack.message_id) is None and ack.message_id in self._message_ids:
            # Forgotten once everybody gave everything it takes: another RECEIPT changes
            # nothing, another answer comes too late to count.
            if ack.kind != acknowledgments_pb2.ACK_KIND_RECEIPT:
                raise FailedPrecondition(
                    f"acknowledgment: message {ack.message_id!r} needs no more answers: "
                    "every station it was for has answered (the first answer counts), or "
                    "it takes only a RECEIPT"
                )
            reply(_result(envelope.message_id, duplicate=True))
            return
        message = self._tracker.check_acknowledgment(
            ack.message_id, party, envelope.hotline, ack.kind
        )
        obligation = message.obligations[party]
        if ack.kind == acknowledgments_pb2.ACK_KIND_RECEIPT and obligation.received:
            # Another console of the station already sent it: nothing new to record.
            reply(_result(envelope.message_id, duplicate=True))
            return
        ack.responder.CopyFrom(common_pb2.StationRef(party=party, hotline=envelope.hotline))
        ack.operator = credential.operator
        if ack.kind in RESPONSES:
            lateness = self._tracker.lateness(ack.message_id, party, now)
            if lateness > 0:
                ack.lateness.CopyFrom(duration(lateness))
        line_was_down = self._tracker.is_line_down(party, envelope.hotline)
        audience = [message.sender_party or EXERCISE_CONTROL]
        # The original of an escalated copy, as it stands before this answer closes it.
        original = (
            self._tracker.get(message.escalation_of)
            if message.escalation_of and ack.kind in RESPONSES
            else None
        )
        relay_lateness = (
            self._tracker.lateness(original.message_id, party, now) if original else 0.0
        )
        self._record_envelope(envelope, actor, audience, reply, digest=digest, key=key)
        if original is not None:
            self._relay_answer(original, envelope, relay_lateness)
        if line_was_down and not self._tracker.is_line_down(party, envelope.hotline):
            self._alert(
                envelope.hotline,
                acknowledgments_pb2.Alert(
                    kind=acknowledgments_pb2.ALERT_KIND_LINE_RESTORED,
                    summary=f"{party}/{hotline_name(envelope.hotline)} answers line tests again",
                    station=common_pb2.StationRef(party=party, hotline=envelope.hotline),
                ),
                self._parties_on[envelope.hotline],
            )

    def _relay_answer(
        self, original: TrackedMessage, answer: envelope_pb2.Envelope, lateness: float
    ) -> None:
        """An answer given on GENERALS to an escalated copy also answers the original:
        its sender hears it on the hotline it used."""
        if not original.sender_party:
            return
        relay = self._server_envelope(original.hotline, f"answer:{self._next_index}")
        relay.sender.party = answer.sender.party
        relay.priority = answer.priority
        relay.acknowledgment.CopyFrom(answer.acknowledgment)
        relay.acknowledgment.message_id = original.message_id
        relay.acknowledgment.ClearField("lateness")
        if lateness > 0:
            relay.acknowledgment.lateness.CopyFrom(duration(lateness))
        self._record_envelope(relay, SERVER, {original.sender_party})

    # ------------------------------------------------------------------ zones

    def _announce_zone(self, zone: zones_pb2.Zone, hotline: Hotline, cause: Cause) -> None:
        envelope = self._server_envelope(hotline, f"zone:{self._next_index}")
        envelope.priority = common_pb2.PRIORITY_IMMEDIATE
        envelope.zone_status.zone.CopyFrom(zone)
        self._record_envelope(envelope, SERVER, self._parties_on[hotline], cause=cause)

    def zones(self, states: Iterable[int] = (), owner: str = "") -> list[zones_pb2.Zone]:
        """Current versions, with ACTIVE/EXPIRED as of now."""
        return self._zones.shown(self._clock(), states, owner)

    def zone_history(self, zone_id: str) -> list[zones_pb2.Zone]:
        return self._zones.history(zone_id)

    # ------------------------------------------------------------------ alerts

    def _server_envelope(self, hotline: Hotline, suffix: str) -> envelope_pb2.Envelope:
        envelope = envelope_pb2.Envelope(
            message_id=f"{SERVER_ID_PREFIX}{suffix}",
            sender=common_pb2.StationRef(hotline=hotline),
            hotline=hotline,
            priority=common_pb2.PRIORITY_FLASH,
        )
        envelope.sent_at.CopyFrom(timestamp(self._clock()))
        return envelope

    def _alert(
        self, hotline: Hotline, alert: acknowledgments_pb2.Alert, audience: Iterable[str]
    ) -> None:
        envelope = self._server_envelope(hotline, f"alert:{self._next_index}")
        alert.alert_id = envelope.message_id
        envelope.alert.CopyFrom(alert)
        self._record_envelope(envelope, SERVER, audience)

    def _found(self, cause: Cause, findings: list[Finding]) -> None:
        """Takes what the checks found about a message; raised at once unless that
        message (or another) is being recorded right now."""
        if cause.recovered:
            if self._missed is not None:
                self._missed.found(cause, findings)
            return
        self._findings.append((cause, findings))
        if not self._recording:
            self._raise_findings()

    def _raise_findings(self) -> None:
        """Raises what the checks found, as alerts on the hotline of the finding's
        domain (else of the message that caused it), to the parties concerned."""
        while self._findings and self._failure is None:
            cause, findings = self._findings.pop(0)
            for finding in findings:
                raised = raised_alert(finding, cause.hotline, cause.message_id, self._parties_on)
                self._alert(raised.hotline, raised.alert, raised.audience)

    # ------------------------------------------------------------------ deadlines

    def _deadline_due(self, key: DeadlineKey, due: float) -> None:
        if self._failure is not None:
            return
        message_id, party, stage = key
        message = self._tracker.get(message_id)
        if message is None:
            return
        hotline = message.hotline
        online = bool(self._consoles[hotline].get(party))
        consequence = self._chains.consequence(key, online)
        station = common_pb2.StationRef(party=party, hotline=hotline)
        missed = log_pb2.DeadlineMissed(
            message_id=message_id,
            station=station,
            deadline=STAGE_KIND[stage],
            station_online=online,
        )
        missed.due_at.CopyFrom(timestamp(due))
        self._append(
            self._new_record(
                log_pb2.RECORD_KIND_DEADLINE_MISSED,
                hotline,
                SERVER,
                message_id,
                deadline_missed=missed,
            )
        )
        label = f"{party}/{hotline_name(hotline)}"
        if consequence is Consequence.LINE_DOWN:
            self._alert(
                hotline,
                acknowledgments_pb2.Alert(
                    kind=acknowledgments_pb2.ALERT_KIND_LINE_DOWN,
                    summary=f"{label} did not answer line test {message_id}",
                    message_id=message_id,
                    station=station,
                ),
                self._parties_on[hotline],
            )
        elif consequence is Consequence.REDELIVER:
            self._redeliver(message, party, common_pb2.OPERATOR_UNSPECIFIED)
        elif consequence is Consequence.TELL_SENDER:
            why = (
                "has not sent a RECEIPT after three deliveries of"
                if online
                else ("is offline and has not received")
            )
            self._alert(
                hotline,
                acknowledgments_pb2.Alert(
                    kind=acknowledgments_pb2.ALERT_KIND_RECEIPT_MISSED,
                    summary=f"{label} {why} {message_id}",
                    message_id=message_id,
                    station=station,
                ),
                {message.sender_party},
            )
        elif consequence is Consequence.ACK_OVERDUE:
            sender_side = {message.sender_party} if message.sender_party else set()
            self._alert(
                hotline,
                acknowledgments_pb2.Alert(
                    kind=acknowledgments_pb2.ALERT_KIND_ACK_OVERDUE,
                    summary=f"{label} has not answered {message_id}; paging the standby",
                    message_id=message_id,
                    station=station,
                    paged_operator=common_pb2.OPERATOR_STANDBY,
                ),
                sender_side | {party},
            )
            # The page: the message itself, again, on the standby's console.
            self._redeliver(message, party, common_pb2.OPERATOR_STANDBY)
        elif consequence is Consequence.ESCALATE:
            self._escalate(message, party, envelope_pb2.ESCALATION_REASON_UNANSWERED)
        elif consequence is Consequence.ALERT_CONTROL:
            self._alert(
                common_pb2.HOTLINE_GENERALS,
                acknowledgments_pb2.Alert(
                    kind=acknowledgments_pb2.ALERT_KIND_ESCALATED,
                    summary=f"{label} never answered {message_id}: exercise control",
                    message_id=message.escalation_of or message_id,
                    station=station,
                ),
                {EXERCISE_CONTROL},
            )

    def _redeliver(self, message: TrackedMessage, party: str, seat: Operator) -> None:
        """Delivers a message again to the station's consoles (only its standby's, for
        a page), and records that it did."""
        payload = self._envelopes.get(message.message_id)
        consoles = [
            c
            for c in self._consoles[message.hotline].get(party, ())
            if not seat or c.credential.operator == seat
        ]
        if payload is None or not consoles:
            return
        self._append(
            self._new_record(
                log_pb2.RECORD_KIND_REDELIVERED,
                message.hotline,
                SERVER,
                message.message_id,
                station_session=log_pb2.StationSession(
                    station=common_pb2.StationRef(party=party, hotline=message.hotline),
                    operator=seat,
                ),
            )
        )
        delivery = self._delivery_of(payload)
        for console in consoles:
            console.redeliver(delivery)

    def _escalate(
        self,
        message: TrackedMessage,
        party: str,
        reason: envelope_pb2.EscalationReason.ValueType,
    ) -> None:
        """Re-sends a message on GENERALS for ``party``'s station there."""
        payload = self._envelopes.get(message.message_id)
        if payload is None:
            return
        copy = envelope_pb2.Envelope.FromString(payload)
        for name in RECORDED_FIELDS:
            copy.ClearField(name)
        generals = common_pb2.HOTLINE_GENERALS
        copy.message_id = escalation_id(party, message.message_id)
        copy.hotline = generals
        copy.sender.hotline = generals
        copy.escalation_of = message.message_id
        copy.escalation_reason = reason
        self._record_envelope(copy, SERVER, {party})
        label = f"{party}/{hotline_name(message.hotline)}"
        why = (
            f"never answered {message.message_id}"
            if reason == envelope_pb2.ESCALATION_REASON_UNANSWERED
            else f"is suspended with {message.message_id} unanswered"
        )
        self._alert(
            message.hotline,
            acknowledgments_pb2.Alert(
                kind=acknowledgments_pb2.ALERT_KIND_ESCALATED,
                summary=f"{label} {why}; re-sent on GENERALS",
                message_id=message.message_id,
                station=common_pb2.StationRef(party=party, hotline=message.hotline),
            ),
            {message.sender_party, party},
        )

    # ------------------------------------------------------------------ line health

    async def _test_lines(self) -> None:
        while True:
            await asyncio.sleep(self._policy.line_test_interval)
            self.test_lines()

    def test_lines(self) -> None:
        """Sends a LINE TEST on every hotline; each station must RECEIPT it in time."""
        if self._failure is not None:
            return
        self._line_tests += 1
        for hotline in HOTLINES:
            parties = self._parties_on[hotline]
            if not parties or hotline in self._suspended:
                continue
            envelope = self._server_envelope(
                hotline, f"line-test:{hotline_name(hotline)}:{self._next_index}"
            )
            envelope.priority = common_pb2.PRIORITY_IMMEDIATE
            envelope.line_test.test_number = self._line_tests
            self._record_envelope(envelope, SERVER, parties)

    # ------------------------------------------------------------------ consoles

    async def open_console(
        self, credential: Credential, peer: str, resume_after: int | None, received: Iterable[int]
    ) -> tuple[Console, int]:
        """Connects a station console; returns it and the hotline's last sequence.

        With ``resume_after``, everything for the station after that sequence number is
        delivered first; without, whatever still waits for the station's answer.
        """
        if self._failure is not None:
            raise Unavailable("the server cannot record traffic; try again later")
        console = Console(credential, uuid.uuid4().hex, peer)
        console.last_seen = self._clock()
        hotline = credential.hotline
        party = credential.party
        console.hold()
        self._consoles[hotline].setdefault(party, set()).add(console)
        self._record_session(log_pb2.RECORD_KIND_STATION_CONNECTED, console, "")
        last = self._last_sequence[hotline]
        try:
            if resume_after is not None:
                stored = await self._log.hotline_items(hotline, resume_after)
                backlog = self._deliveries_for(party, stored)
            else:
                backlog = self._owed_deliveries(party, hotline)
        except BaseException:
            self.close_console(console, "session ended while opening")
            raise
        console.release(backlog, received)
        return console, last

    def _deliveries_for(self, party: str, stored: list[StoredRecord]) -> list[Delivery]:
        out = []
        for item in stored:
            envelope = log_pb2.LogRecord.FromString(item.data).envelope
            if party in self._audience(envelope):
                flash = envelope.priority == common_pb2.PRIORITY_FLASH
                out.append(Delivery.of(envelope.sequence, flash, envelope.SerializeToString()))
        return out

    def _owed_deliveries(self, party: str, hotline: Hotline) -> list[Delivery]:
        out = []
        for message in self._tracker.owed_by(party, hotline):
            payload = self._envelopes.get(message.message_id)
            if payload is not None:
                out.append(self._delivery_of(payload))
        return out

    @staticmethod
    def _delivery_of(payload: bytes) -> Delivery:
        envelope = envelope_pb2.Envelope.FromString(payload)
        flash = envelope.priority == common_pb2.PRIORITY_FLASH
        return Delivery.of(envelope.sequence, flash, payload)

    def close_console(self, console: Console, reason: str) -> None:
        """Disconnects a console; the last one of a station makes it STATION_OFFLINE."""
        console.close(reason)
        hotline = console.hotline
        consoles = self._consoles[hotline].get(console.party)
        if consoles is None or console not in consoles:
            return
        consoles.discard(console)
        if self._failure is not None:
            return
        self._record_session(log_pb2.RECORD_KIND_STATION_DISCONNECTED, console, reason)
        if not consoles:
            del self._consoles[hotline][console.party]
            if self._closing:
                return
            self._alert(
                hotline,
                acknowledgments_pb2.Alert(
                    kind=acknowledgments_pb2.ALERT_KIND_STATION_OFFLINE,
                    summary=f"{console.party}/{hotline_name(hotline)} is offline",
                    station=common_pb2.StationRef(party=console.party, hotline=hotline),
                ),
                self._parties_on[hotline] - {console.party} or {EXERCISE_CONTROL},
            )

    def _record_session(
        self, kind: log_pb2.RecordKind.ValueType, console: Console, reason: str
    ) -> None:
        session = log_pb2.StationSession(
            station=common_pb2.StationRef(party=console.party, hotline=console.hotline),
            operator=console.credential.operator,
            session_id=console.session_id,
            peer=console.peer,
            reason=reason,
        )
        self._append(
            self._new_record(
                kind, console.hotline, console.credential.station_label, station_session=session
            )
        )

    def heartbeat(self, console: Console) -> None:
        console.last_seen = self._clock()

    def open_watch(self, credential: Credential, hotlines: Iterable[int], peer: str) -> Console:
        """A read-only stream of log records for exercise control and observers."""
        credential.require_watch("watching the hotlines")
        return self._watchers.open(credential, hotlines, peer)  # type: ignore[arg-type]

    async def watch_backlog(self, console: Console, after_index: int) -> None:
        await self._watchers.catch_up(console, after_index)

    def close_watch(self, console: Console) -> None:
        self._watchers.close(console)

    def revoke(self, credential: Credential, credential_id: str, reason: str, ended: int) -> int:
        """Records that exercise control (``credential``) revoked ``credential_id``,
        ending ``ended`` sessions; returns the record's index."""
        credential.require_control("revoking a credential")
        revoked = log_pb2.CredentialRevoked(
            credential_id=credential_id, reason=reason, sessions_ended=ended
        )
        stored = self._append(
            self._new_record(
                log_pb2.RECORD_KIND_CREDENTIAL_REVOKED,
                common_pb2.HOTLINE_UNSPECIFIED,
                credential.station_label,
                credential_id,
                credential_revoked=revoked,
            )
        )
        return stored.index

    def end_sessions(self, ended: Callable[[Credential], bool], reason: str) -> int:
        """Ends at once, with UNAUTHENTICATED and ``reason``, every station session and
        watch whose credential ``ended`` picks (e.g. a revoked one); returns how many.
        Each ended station session is recorded as its disconnection, with the reason."""
        count = 0
        for console in [*self._all_consoles(), *self._watchers]:
            if ended(console.credential):
                console.close(reason, Unauthenticated)
                count += 1
        return count

    def _all_consoles(self) -> list[Console]:
        return [c for per in self._consoles.values() for cs in per.values() for c in cs]

    # ------------------------------------------------------------------ control

    def set_suspended(
        self, credential: Credential, hotline: Hotline, reason: str, suspended: bool
    ) -> None:
        self._may_suspend(credential, hotline, suspended)
        if suspended == (hotline in self._suspended):
            state = "suspended" if suspended else "not suspended"
            raise FailedPrecondition(f"hotline: {hotline_name(hotline)} is already {state}")
        kind = (
            log_pb2.RECORD_KIND_HOTLINE_SUSPENDED
            if suspended
            else log_pb2.RECORD_KIND_HOTLINE_RESUMED
        )
        self._append(
            self._new_record(
                kind,
                hotline,
                credential.station_label,
                annotation=log_pb2.Annotation(author=credential.subject, text=reason),
            )
        )
        if suspended:
            # Urgent traffic does not wait for the line to come back.
            for message, party in self._chains.to_reroute(hotline):
                self._escalate(message, party, envelope_pb2.ESCALATION_REASON_LINE_SUSPENDED)

    def _may_suspend(self, credential: Credential, hotline: Hotline, suspended: bool) -> None:
        """Exercise control suspends and resumes any hotline; where the exercise allows
        it, a party's station its own, and only the party that suspended a hotline (or
        exercise control) resumes it."""
        if credential.may_control:
            return
        what = "suspending and resuming hotlines"
        if not credential.is_participant or not self.exercise.policy.parties_may_suspend:
            credential.require_control(f"in this exercise (policy.parties_may_suspend), {what}")
        label = credential.station_label
        if hotline != credential.hotline:
            raise PermissionDenied(
                f"hotline: {label} may suspend or resume only its own hotline, "
                f"{hotline_name(credential.hotline)}"
            )
        by = self._suspended_by.get(hotline)
        if not suspended and by is not None and by != credential.party:
            raise PermissionDenied(
                f"hotline: {hotline_name(hotline)} was suspended by "
                f"{by or 'exercise control'}; only they or exercise control resume it"
            )

    async def index_of(self, hotline: Hotline, sequence: int) -> int:
        """The log index of the record numbered ``sequence`` on ``hotline`` (a console's
        #N); InvalidArgument without a hotline, OutOfRange if it has no such number."""
        if hotline == common_pb2.HOTLINE_UNSPECIFIED:
            raise InvalidArgument("about_sequence: counts on a hotline; give the hotline")
        stored = await self._log.at_sequence(hotline, sequence)
        if stored is None:
            raise OutOfRange(
                f"about_sequence: {hotline_name(hotline)} has no #{sequence}; its last is "
                f"#{self._last_sequence[hotline]}"
            )
        return stored.index

    def annotate(
        self,
        credential: Credential,
        hotline: Hotline,
        text: str,
        bookmark: str,
        *,
        about_index: int | None = None,
        about_time: Timestamp | None = None,
    ) -> int:
        """Appends a trainer's note or bookmark as its own record; returns its index.

        ``about_index`` and ``about_time`` tie a note written after the fact to the
        record or moment of the exercise it is about. Raises OutOfRange for an index
        not yet recorded and InvalidArgument for a time that is not a valid moment.
        """
        credential.require_control("annotating the exercise")
        if bookmark in self._bookmarks:
            raise AlreadyExists(
                f"bookmark: {bookmark!r} is set already (log record "
                f"{self._bookmarks[bookmark]}); a name marks one place: choose another"
            )
        annotation = log_pb2.Annotation(author=credential.subject, text=text, bookmark=bookmark)
        if about_index is not None:
            if about_index >= self._next_index:
                raise OutOfRange(
                    f"about_index: there is no record {about_index} yet; the log holds "
                    f"records 0 to {self._next_index - 1}"
                )
            annotation.about_index = about_index
        if about_time is not None:
            if not 0 <= about_time.nanos < 1_000_000_000 or about_time.seconds < 0:
                raise InvalidArgument("about_time: not a valid time")
            if seconds(about_time) > self._clock() + MAX_CLOCK_AHEAD_S:
                raise InvalidArgument("about_time: in the future; a note is about a past moment")
            annotation.about_time.CopyFrom(about_time)
        stored = self._append(
            self._new_record(
                log_pb2.RECORD_KIND_ANNOTATION,
                hotline,
                credential.station_label,
                annotation=annotation,
            )
        )
        return stored.index

    # ------------------------------------------------------------------ status

    @property
    def log_size(self) -> int:
        return self._next_index

    def station_statuses(self) -> list[exercise_pb2.StationStatus]:
        return station_statuses(self.exercise, self._consoles, self._tracker)

    def hotline_statuses(self) -> list[exercise_pb2.HotlineStatus]:
        return hotline_statuses(self._tracker, self._suspended, self._last_sequence)


def _party_of(actor: str) -> str:
    """The party of a record's actor: ``RED`` for a station's ``RED/AIR_OPERATIONS``,
    "" for exercise control's ``EXERCISE_CONTROL:<subject>``."""
    return "" if ":" in actor else actor.partition("/")[0]
