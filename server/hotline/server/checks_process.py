"""The deconfliction checks in a child process of their own.

The checks cost more per position report than everything else the server does for it
(see ``bench/RESULTS.md``), and the event loop is the server's bottleneck: running them
on the other core lets the switchboard route while the engine works. The switchboard
still validates every envelope itself before recording it (that needs no engine state),
then hands each recorded envelope over here, in log order; the findings come back in
the same order and are raised as alerts shortly after their cause.

Position reports are checked behind the loop: their alerts follow their cause by a
turn or two of the event loop. A zone's new state and an activity notice are waited
for, so a ZONE_OVERLAP is recorded with the proposal (the other side sees it before
deciding) and a NOTICE_CONFLICT with the notice — they are rare, and the wait is the
child's lag behind the loop, a pipe's worth of reports at most.

The two processes speak over the child's standard input and output, in frames of a
4-byte length and a pickle: first the separation minima, then requests
``(ticket, awaited, batch)``: a batch of observations ``(payload, body, at, validated,
cause)``, or a state to start from (``bytes``, a snapshot's), or ``None`` for the
engine's state now; back, ``(ticket, found, state)`` with ``(cause, findings)`` for the
observations that found something, sent when something was found or the batch has a
ticket (someone waits for it), and the pickled engine for a ``None`` request. One
batch goes out per turn of the event loop (or every :data:`BATCH` observations), so a
stream message of 64 reports costs one write. A write waits when the child is a pipe's
worth behind: the server cannot outrun its checks. A thread reads the answers, so
neither side can block the other.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import IO

from hotline.server.checks import (
    Cause,
    DeconflictionChecks,
    Finding,
    FoundSink,
)
from hotline.server.errors import HotlineError, Unavailable
from hotline.server.exercise import Hotline, Separation
from hotline.server.frames import read_frame, write_frame
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2

__all__ = ["BATCH", "ChecksProcess"]

log = logging.getLogger(__name__)

#: Observations sent in one frame at most.
BATCH = 512
#: How long the child may take to answer what it was sent.
ANSWER_TIMEOUT_S = 30.0
#: Observations whose findings are waited for (see the module's docstring).
_AWAITED = frozenset({"zone_status", "activity_notice"})

#: An observation as sent: envelope bytes, body, recorded time, validated, cause.
_SentCause = tuple[Hotline, str, float, bool]
_Observation = tuple[bytes, str, float, bool, _SentCause | None]
#: Findings as sent back: the alert's bytes, its domain, the parties concerned.
_SentFinding = tuple[bytes, common_pb2.Domain.ValueType, tuple[str, ...]]
_Found = tuple[_SentCause, list[_SentFinding]]


class ChecksProcess:
    """:class:`~hotline.server.checks.Checks` run by a child process.

    Start it with the exercise's separation minima, ``bind`` it from the event loop
    that runs the switchboard, and ``close`` it before the log: closing waits for the
    findings of everything observed. If the child dies, ``failed`` is called and the
    server stops recording rather than run without its checks.
    """

    def __init__(self, separation: Separation) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "hotline.server.checks_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._to_child: IO[bytes] = self._process.stdin
        self._from_child: IO[bytes] = self._process.stdout
        self._pending: list[_Observation] = []
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._found: FoundSink | None = None
        self._failed: Callable[[BaseException], None] | None = None
        self._reader: threading.Thread | None = None
        self._closing = False
        self._broken = False
        # The last batch sent, the one waited for, and its answer once the reader has it.
        self._ticket = 0
        self._awaited = 0
        self._answered = threading.Event()
        self._answer: list[_Found] | None = None
        # Snapshots asked for, by ticket, answered in the loop.
        self._snapshots: dict[int, asyncio.Future[bytes]] = {}
        write_frame(self._to_child, separation)

    def restore(self, state: bytes) -> None:
        write_frame(self._to_child, (0, False, state))

    async def snapshot(self) -> bytes:
        self._flush()
        if self._closing or self._broken or self._loop is None:
            raise Unavailable("the deconfliction checks are not running")
        self._ticket += 1
        ticket = self._ticket
        answer = self._snapshots[ticket] = self._loop.create_future()
        try:
            write_frame(self._to_child, (ticket, False, None))
        except OSError as error:
            del self._snapshots[ticket]
            self._broken = True
            self._fail(error)
            raise Unavailable("the deconfliction checks stopped") from error
        async with asyncio.timeout(ANSWER_TIMEOUT_S):
            state: bytes = await answer
        return state

    def bind(self, found: FoundSink, failed: Callable[[BaseException], None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._found, self._failed = found, failed
        self._reader = threading.Thread(
            target=self._read_findings, name="deconfliction-findings", daemon=True
        )
        self._reader.start()

    def observe(
        self,
        envelope: envelope_pb2.Envelope,
        payload: bytes,
        body: str,
        at: float,
        *,
        validated: bool,
        cause: Cause | None,
    ) -> None:
        sent_cause = (
            None if cause is None else (cause.hotline, cause.message_id, cause.at, cause.recovered)
        )
        pending = self._pending
        pending.append((payload, body, at, validated, sent_cause))
        if cause is not None and not cause.recovered and body in _AWAITED and self._reader:
            self._wait_for(self._flush(awaited=True))
        elif len(pending) >= BATCH:
            self._flush()
        elif not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    async def settle(self) -> None:
        ticket = self._flush(awaited=True)
        if ticket:
            answered = await asyncio.to_thread(self._answered.wait, ANSWER_TIMEOUT_S)
            self._take_answer(answered)

    async def close(self) -> None:
        if self._closing:
            return
        self._flush()
        self._closing = True
        with suppress(OSError):
            self._to_child.close()
        try:
            if self._reader is not None:
                await asyncio.wait_for(asyncio.to_thread(self._reader.join), ANSWER_TIMEOUT_S)
            await asyncio.wait_for(asyncio.to_thread(self._process.wait), ANSWER_TIMEOUT_S)
        finally:
            if self._process.returncode is None:
                self._process.kill()
                await asyncio.to_thread(self._process.wait)
            self._from_child.close()

    # -- in the event loop ------------------------------------------------------------

    def _flush(self, *, awaited: bool = False) -> int:
        """Sends what is pending, to be answered even if nothing is found if
        ``awaited``; returns the batch's ticket (0 if nothing was sent)."""
        self._flush_scheduled = False
        if (not self._pending and not awaited) or self._closing or self._broken:
            self._pending.clear()
            return 0
        batch, self._pending = self._pending, []
        self._ticket += 1
        if awaited:
            self._awaited = self._ticket
        try:
            write_frame(self._to_child, (self._ticket, awaited, batch))
        except OSError as error:
            self._broken = True
            self._fail(error)
            return 0
        return self._ticket

    def _wait_for(self, ticket: int) -> None:
        """Blocks until the child has answered batch ``ticket``; hands its findings on
        (they are raised after the message being recorded)."""
        if ticket:
            self._take_answer(self._answered.wait(ANSWER_TIMEOUT_S))

    def _take_answer(self, answered: bool) -> None:
        if not answered:
            self._broken = True
            self._fail(TimeoutError(f"no answer in {ANSWER_TIMEOUT_S:.0f} s"))
            return
        self._answered.clear()
        answer, self._answer = self._answer, None
        if answer:
            self._deliver(answer)

    def _snapshot_taken(self, ticket: int, state: bytes) -> None:
        answer = self._snapshots.pop(ticket, None)
        if answer is not None and not answer.done():
            answer.set_result(state)

    def _deliver(self, found: list[_Found]) -> None:
        assert self._found is not None
        for (hotline, message_id, at, recovered), findings in found:
            self._found(
                Cause(hotline, message_id, at, recovered),
                [
                    Finding(acknowledgments_pb2.Alert.FromString(alert), domain, parties)
                    for alert, domain, parties in findings
                ],
            )

    def _fail(self, error: BaseException) -> None:
        if self._closing:
            return
        log.error("the deconfliction checks stopped: %s", error)
        if self._failed is not None:
            self._failed(
                Unavailable(f"the deconfliction checks stopped ({error}); restart the server")
            )

    # -- in the reader thread ---------------------------------------------------------

    def _read_findings(self) -> None:
        assert self._loop is not None
        try:
            while (answer := read_frame(self._from_child)) is not None:
                ticket, found, state = answer
                if state is not None:
                    # After the findings sent before it, which are delivered first.
                    self._loop.call_soon_threadsafe(self._snapshot_taken, ticket, state)
                elif ticket == self._awaited:
                    # The loop is blocked in _wait_for: hand the findings straight over.
                    self._answer = found
                    self._answered.set()
                else:
                    self._loop.call_soon_threadsafe(self._deliver, found)
        except (OSError, ValueError, pickle.UnpicklingError) as error:
            ended: BaseException = error
        else:
            ended = ConnectionError(f"the checks process exited ({self._process.poll()})")
        if not self._closing:
            with suppress(RuntimeError):  # the loop is closed: nobody left to tell
                self._loop.call_soon_threadsafe(self._fail, ended)
        self._answered.set()  # nobody waits for an answer that cannot come


def _serve_checks(requests: IO[bytes], answers: IO[bytes]) -> None:
    """The child's side: observe every batch, answer what was found."""
    separation: Separation = read_frame(requests)
    checks = DeconflictionChecks(separation)
    from_bytes = envelope_pb2.Envelope.FromString
    while (request := read_frame(requests)) is not None:
        ticket, awaited, batch = request
        if batch is None:
            state = pickle.dumps(checks, protocol=pickle.HIGHEST_PROTOCOL)
            write_frame(answers, (ticket, [], state))
            continue
        if isinstance(batch, bytes):
            checks = pickle.loads(batch)
            continue
        found: list[_Found] = []
        observation: _Observation
        for observation in batch:
            payload, body, at, validated, cause = observation
            envelope = from_bytes(payload)
            try:
                findings = checks.observe(envelope, body, at, validated=validated)
            except HotlineError as error:
                # Refused live before it was recorded; a record read back may predate a
                # stricter rule. Either way the rest of the log is still checked.
                log.warning("not checked: message %s: %s", envelope.message_id, error.message)
                continue
            except Exception:
                log.exception("checking message %s failed", envelope.message_id)
                continue
            if findings and cause is not None:
                found.append(
                    (cause, [(f.alert.SerializeToString(), f.domain, f.parties) for f in findings])
                )
        if found or awaited:
            write_frame(answers, (ticket, found, None))


if __name__ == "__main__":
    # Ctrl-C in a terminal, or a service manager's SIGTERM, reaches the whole process
    # group: the server shuts down in order and closes our input, which ends us then.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _serve_checks(sys.stdin.buffer, sys.stdout.buffer)
