"""The participant's client: connect as a station, send, receive, acknowledge.

    async with StationClient("127.0.0.1:50051", token) as station:
        await station.send(messages_pb2.TextMessage(text="Strike at 0600Z", language="en"))
        async for delivery in station.deliveries():
            await station.acknowledge(delivery, acknowledgments_pb2.ACK_KIND_WILCO)

The session survives network trouble: it reconnects with back-off, resumes from the last
sequence number it has (no gap, no duplicate), and re-sends what the server had not yet
confirmed (the message id makes a retried send take effect once). A RECEIPT goes back
automatically as soon as a delivery reaches the application; under heavy traffic the
RECEIPTs of a few milliseconds go together in one stream message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from types import TracebackType
from typing import TypeAlias

import grpc

from hotline.client._envelopes import Body, acknowledgment, envelope
from hotline.client._errors import (
    FATAL,
    Closed,
    HotlineClientError,
    Refused,
    SessionFailed,
    from_rpc_error,
)
from hotline.client._security import Tls, TokenSource, metadata, open_channel, read_token
from hotline.contract import needs_receipt, status_code
from hotline.v1 import (
    acknowledgments_pb2,
    common_pb2,
    envelope_pb2,
    exercise_pb2,
    services_pb2,
    services_pb2_grpc,
)

log = logging.getLogger(__name__)

#: The clients' gRPC channel options: messages up to 64 MiB in and 16 MiB out, and a
#: keepalive ping every 20 s so that a dead connection is noticed.
CHANNEL_OPTIONS = (
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 20_000),
)
#: Envelopes sent in one stream message at the most.
SEND_BATCH = 256
#: A send goes at once unless what was sent before is still unconfirmed: then it waits
#: for the next confirmation, this long at most, and the sends queued meanwhile go with
#: it. The number of stream messages follows what the server takes in: one envelope
#: each while it keeps up, more together when it falls behind (it reads one stream
#: message per turn of its event loop, however many envelopes it holds).
SEND_GATHER_S = 0.005
#: A RECEIPT goes at once, unless the last write was less than this long ago: then it
#: waits for the end of that time, and the RECEIPTs gathered meanwhile go together.
#: Under heavy traffic this spares the station, the server and the sender a stream
#: message (and its RECEIPT's delivery) for most messages received; no deadline is
#: shorter than seconds.
RECEIPT_GATHER_S = 0.005


_SessionCall: TypeAlias = grpc.aio.StreamStreamCall[
    services_pb2.SessionRequest, services_pb2.SessionResponse
]


class _StreamEnded(Exception):
    """The server ended the stream without an error."""


@dataclass
class _Resume:
    """Where the station stands in its hotline's sequence.

    Everything at or below ``watermark`` has arrived; FLASH deliveries may overtake, so
    the few above it that arrived are listed in ``above``. ``floor`` is the hotline's last
    sequence when the first session opened: messages below it that still waited for this
    station came first, and ``early`` remembers which.
    """

    floor: int | None = None
    watermark: int = 0
    above: set[int] = field(default_factory=set)
    early: set[int] = field(default_factory=set)

    def first_time(self, sequence: int, flash: bool) -> bool:
        """Records an arrival; False for one already seen."""
        if self.floor is not None and sequence <= self.floor:
            if sequence in self.early:
                return False
            self.early.add(sequence)
            return True
        if sequence <= self.watermark or sequence in self.above:
            return False
        if flash:
            self.above.add(sequence)
        else:
            self.watermark = sequence
            self.above = {s for s in self.above if s > sequence}
        return True


class StationClient:
    """One station console's session with the hotline server at ``address``, as the
    station and seat (primary or standby) the credential ``token`` names.

    ``token`` is the token itself or what reads it each time a session opens (a
    :class:`~hotline.client.TokenFile`); with mutual TLS it may be None, the client
    certificate of ``tls`` (a :class:`~hotline.client.Tls`; None: plaintext, loopback
    only) alone naming the station. When the server ends the session because the
    credential expired, a renewed token (the file rewritten) opens the next session at
    once, with no gap or duplicate.

    ``async with StationClient(address, token) as station`` opens the session and waits
    for the server to accept it: :class:`TimeoutError` if no session opens within
    ``connect_timeout`` seconds (no server there, or none answering),
    :class:`~hotline.client.SessionFailed` if the server refuses it for good (a
    credential that is not valid for the exercise, a station it does not have).

    ``resume_after`` is the sequence number up to which a previous session received
    everything (:attr:`last_sequence`): the new session delivers what came after it,
    nothing twice. Without it the session starts from what is new, plus what still
    waits for this station's answer. Lost connections are re-opened by themselves,
    waiting up to ``max_backoff`` seconds between attempts; ``max_queued`` deliveries
    wait for the application at the most (then the server's deliveries wait).
    """

    def __init__(
        self,
        address: str,
        token: TokenSource,
        *,
        tls: Tls | None = None,
        resume_after: int | None = None,
        connect_timeout: float = 15.0,
        max_backoff: float = 5.0,
        heartbeat_interval: float = 10.0,
        max_queued: int = 10_000,
        channel_options: Sequence[tuple[str, int | str]] = CHANNEL_OPTIONS,
    ) -> None:
        self.address = address
        self._channel_options = channel_options
        self._tls = tls
        self._token_source = token
        self._token = ""
        self._connect_timeout = connect_timeout
        self._max_backoff = max_backoff
        self._heartbeat_interval = heartbeat_interval
        self._resume = _Resume()
        self._resuming = resume_after is not None
        if resume_after is not None:
            self._resume.watermark = resume_after
        self._unconfirmed: dict[
            str, tuple[envelope_pb2.Envelope, asyncio.Future[services_pb2.SendResult] | None]
        ] = {}
        self._outbox: deque[str] = deque()
        self._wake = asyncio.Event()
        # Set when a send that the application awaits is queued.
        self._urgent = asyncio.Event()
        # What this session wrote and the server has not confirmed yet; set at each
        # confirmation.
        self._in_flight: set[str] = set()
        self._progress = asyncio.Event()
        self._deliveries: asyncio.Queue[envelope_pb2.Envelope | HotlineClientError] = asyncio.Queue(
            max_queued
        )
        # Sequence numbers waiting in the queue, not yet handed to the application.
        self._queued: set[int] = set()
        self._opened = asyncio.Event()
        self._failure: HotlineClientError | None = None
        self._stack = AsyncExitStack()
        self._channel: grpc.aio.Channel | None = None
        self._runner: asyncio.Task[None] | None = None
        self._call: (
            grpc.aio.StreamStreamCall[services_pb2.SessionRequest, services_pb2.SessionResponse]
            | None
        ) = None
        self.station: exercise_pb2.Station | None = None
        self.operator: common_pb2.Operator.ValueType = common_pb2.OPERATOR_UNSPECIFIED
        #: Sessions opened so far (1 + reconnections).
        self.sessions_opened = 0
        # Why the last attempt failed, for a connection that never opens.
        self._last_error: HotlineClientError | None = None

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> StationClient:
        self._channel = open_channel(self.address, self._channel_options, self._tls)
        self._stack.push_async_callback(self._channel.close)
        tasks = await self._stack.enter_async_context(asyncio.TaskGroup())
        self._runner = tasks.create_task(self._maintain(), name="station-session")
        try:
            await asyncio.wait_for(self._wait_opened(), self._connect_timeout)
        except TimeoutError:
            await self.close()
            why = f": {self._last_error}" if self._last_error else ""
            raise TimeoutError(
                f"no session opened with {self.address} within {self._connect_timeout:g} s{why}"
            ) from None
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Ends the session; sends still waiting for their confirmation fail with
        :class:`~hotline.client.Closed`."""
        if self._call is not None:
            # Cancelling the call first ends its pending read and write at once.
            self._call.cancel()
        if self._runner is not None:
            self._runner.cancel()
        await self._stack.aclose()
        for _, future in self._unconfirmed.values():
            if future is not None and not future.done():
                future.set_exception(Closed("the client was closed"))
        self._unconfirmed.clear()

    async def _wait_opened(self) -> None:
        await self._opened.wait()
        if self._failure is not None:
            raise self._failure

    @property
    def ref(self) -> common_pb2.StationRef:
        """This station (party and hotline); :class:`~hotline.client.Closed` before the
        session has opened."""
        if self.station is None:
            raise Closed("the session is not open")
        return self.station.ref

    @property
    def failure(self) -> HotlineClientError | None:
        """Why the session cannot go on (a :class:`~hotline.client.SessionFailed`), once
        it cannot; None while it goes on."""
        return self._failure

    @property
    def last_sequence(self) -> int:
        """The sequence number to resume after: everything up to it has arrived."""
        return self._resume.watermark

    # ------------------------------------------------------------------ sending

    async def send(
        self,
        body: Body,
        priority: common_pb2.Priority.ValueType = common_pb2.PRIORITY_ROUTINE,
        message_id: str | None = None,
    ) -> services_pb2.SendResult:
        """Sends one message (see :func:`~hotline.client.envelope`) and returns once it
        is durably recorded: its sequence number on the hotline.

        A lost connection does not fail the send: it goes again on the next session,
        and takes effect once. Raises :class:`~hotline.client.Refused` with the status
        and the reason if the server refuses it (INVALID_ARGUMENT naming the field,
        FAILED_PRECONDITION on a suspended hotline ...),
        :class:`~hotline.client.SessionFailed` if the session has failed for good and
        :class:`~hotline.client.Closed` if the client is closed before it is recorded.
        Wrap it in :func:`asyncio.timeout` to wait no longer than you can.
        """
        return await self.send_envelope(envelope(self.ref, body, priority, message_id))

    async def send_envelope(self, message: envelope_pb2.Envelope) -> services_pb2.SendResult:
        """Sends an envelope built by the caller, as :meth:`send` does; sending one whose
        message id is still waiting for its confirmation waits for the same result."""
        if self._failure is not None:
            raise self._failure
        future = self._unconfirmed.get(message.message_id, (None, None))[1]
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._queue(message, future)
        return await asyncio.shield(future)

    async def acknowledge(
        self,
        message: envelope_pb2.Envelope | str,
        kind: acknowledgments_pb2.AckKind.ValueType,
        reason: str = "",
    ) -> services_pb2.SendResult:
        """Answers a delivery (or a message id) with WILCO, UNABLE (with a ``reason``)
        or ROGER, at the message's priority (IMMEDIATE for an id); returns once the
        answer is recorded. RECEIPTs go by themselves. Fails as :meth:`send` does: the
        server refuses with NOT_FOUND an answer to a message it does not know, with
        FAILED_PRECONDITION one that is not this station's to give."""
        if isinstance(message, str):
            message_id, priority = message, common_pb2.PRIORITY_IMMEDIATE
        else:
            message_id, priority = message.message_id, message.priority
        return await self.send(acknowledgment(message_id, kind, reason), priority)

    def _queue(
        self,
        message: envelope_pb2.Envelope,
        future: asyncio.Future[services_pb2.SendResult] | None,
    ) -> None:
        self._unconfirmed[message.message_id] = (message, future)
        self._outbox.append(message.message_id)
        if future is not None:
            self._urgent.set()
        self._wake.set()

    def _send_receipt(self, delivery: envelope_pb2.Envelope) -> None:
        receipt = acknowledgment(delivery.message_id, acknowledgments_pb2.ACK_KIND_RECEIPT)
        self._queue(envelope(self.ref, receipt, delivery.priority), None)

    # ------------------------------------------------------------------ receiving

    async def deliveries(self) -> AsyncIterator[envelope_pb2.Envelope]:
        """Every delivery in order, once each: messages, acknowledgments of this
        station's messages, and alerts; FLASH traffic may overtake. Sends the RECEIPT
        for each one it hands over. Raises :class:`~hotline.client.SessionFailed` when
        the session fails for good; a lost connection only pauses it."""
        while True:
            yield self._hand_over(await self._deliveries.get())

    async def next_delivery(self, within: float | None = None) -> envelope_pb2.Envelope:
        """The next delivery (its RECEIPT sent, as :meth:`deliveries` does);
        :class:`TimeoutError` if none comes within ``within`` seconds (None: wait)."""
        return self._hand_over(await asyncio.wait_for(self._deliveries.get(), within))

    def _hand_over(self, item: envelope_pb2.Envelope | HotlineClientError) -> envelope_pb2.Envelope:
        if isinstance(item, HotlineClientError):
            self._deliveries.put_nowait(item)
            raise item
        self._queued.discard(item.sequence)
        if needs_receipt(item):
            self._send_receipt(item)
        return item

    # ------------------------------------------------------------------ the session

    async def _maintain(self) -> None:
        backoff = 0.1
        while True:
            opened_before = self.sessions_opened
            fatal: SessionFailed | None = None
            try:
                await self._session()
            except* grpc.aio.AioRpcError as group:
                rpc_error = group.exceptions[0]
                assert isinstance(rpc_error, grpc.aio.AioRpcError)
                error = from_rpc_error(rpc_error)
                if error.code == grpc.StatusCode.UNAUTHENTICATED and self._renewed():
                    log.info("%s; reconnecting with the renewed credential", error.detail)
                    backoff = 0.0
                elif isinstance(error, Refused) and error.code in FATAL:
                    fatal = SessionFailed(error.code, error.detail)
                else:
                    self._last_error = error
                    log.info("session to %s lost (%s); reconnecting", self.address, error.code.name)
            except* HotlineClientError as group:
                # The credential could not be read (a token file gone or empty).
                fatal = SessionFailed(grpc.StatusCode.UNAUTHENTICATED, str(group.exceptions[0]))
            except* (_StreamEnded, asyncio.InvalidStateError):
                # InvalidStateError: a write raced the end of the call.
                log.info("the server ended the session; reconnecting")
            if fatal is not None:
                self._fail(fatal)
                return
            if self.sessions_opened > opened_before and backoff:
                backoff = 0.1
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(max(backoff * 2, 0.1), self._max_backoff)

    def _renewed(self) -> bool:
        """Whether the token source now gives another token than the session used."""
        if not callable(self._token_source):
            return False
        try:
            return read_token(self._token_source) != self._token
        except HotlineClientError:
            return False

    def _fail(self, failure: HotlineClientError) -> None:
        self._failure = failure
        self._opened.set()
        for _, future in self._unconfirmed.values():
            if future is not None and not future.done():
                future.set_exception(failure)
        self._unconfirmed.clear()
        if self._deliveries.full():
            self._deliveries.get_nowait()
        self._deliveries.put_nowait(failure)

    async def _session(self) -> None:
        assert self._channel is not None
        stub = services_pb2_grpc.StationServiceStub(self._channel)
        self._token = read_token(self._token_source)
        call = self._call = stub.Session(metadata=metadata(self._token))
        try:
            await call.write(services_pb2.SessionRequest(open=self._open_request()))
            first = await call.read()
            if not isinstance(first, services_pb2.SessionResponse):
                raise _StreamEnded
            opened = first.opened
            self.station = opened.station
            self.operator = opened.operator
            if self._resume.floor is None and not self._resuming:
                self._resume.floor = opened.last_sequence
                self._resume.watermark = opened.last_sequence
            self._resuming = True
            if self.sessions_opened:
                log.info("session to %s open again", self.address)
            self.sessions_opened += 1
            self._opened.set()
            await self._exchange(call)
        finally:
            call.cancel()

    async def _exchange(self, call: _SessionCall) -> None:
        """Reads and writes until either side fails or the stream ends; then stops both.

        Both tasks are owned here: whichever way this returns, neither outlives it.
        """
        reader = asyncio.create_task(self._read(call), name="station-read")
        writer = asyncio.create_task(self._write(call), name="station-write")
        try:
            done, _ = await asyncio.wait((reader, writer), return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            raise _StreamEnded
        finally:
            # Cancelling the call ends a pending read or write even where cancelling the
            # task alone would wait for the transport.
            call.cancel()
            for task in (reader, writer):
                task.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)

    def _open_request(self) -> services_pb2.SessionOpen:
        request = services_pb2.SessionOpen()
        if self._resuming:
            request.resume_after_sequence = self._resume.watermark
            request.received_after.extend(sorted(self._resume.above))
        return request

    async def _read(
        self,
        call: grpc.aio.StreamStreamCall[services_pb2.SessionRequest, services_pb2.SessionResponse],
    ) -> None:
        while True:
            response = await call.read()
            if not isinstance(response, services_pb2.SessionResponse):
                raise _StreamEnded
            kind = response.WhichOneof("response")
            if kind == "results":
                for result in response.results.results:
                    self._confirm(result)
            elif kind == "deliveries":
                await self._deliver(response.deliveries.envelopes)

    async def _deliver(self, envelopes: Sequence[envelope_pb2.Envelope]) -> None:
        for delivery in envelopes:
            flash = delivery.priority == common_pb2.PRIORITY_FLASH
            if self._resume.first_time(delivery.sequence, flash):
                self._queued.add(delivery.sequence)
                await self._deliveries.put(delivery)
            elif needs_receipt(delivery) and delivery.sequence not in self._queued:
                # A re-delivery of what the application already has: the server did not
                # get our RECEIPT; send it again.
                self._send_receipt(delivery)

    def _confirm(self, result: services_pb2.SendResult) -> None:
        self._in_flight.discard(result.message_id)
        self._progress.set()
        _, future = self._unconfirmed.pop(result.message_id, (None, None))
        if result.code:
            failure = Refused(status_code(result.code), result.error)
            if future is None:
                log.warning("a RECEIPT was refused: %s", failure)
            elif not future.done():
                future.set_exception(failure)
        elif future is not None and not future.done():
            future.set_result(result)

    async def _write(
        self,
        call: grpc.aio.StreamStreamCall[services_pb2.SessionRequest, services_pb2.SessionResponse],
    ) -> None:
        # Whatever was not confirmed goes again (the server drops duplicates).
        self._outbox = deque(self._unconfirmed)
        self._in_flight.clear()
        loop = asyncio.get_running_loop()
        written_at = float("-inf")
        while True:
            if not self._outbox:
                self._wake.clear()
                try:
                    async with asyncio.timeout(self._heartbeat_interval):
                        await self._wake.wait()
                except TimeoutError:
                    await call.write(
                        services_pb2.SessionRequest(heartbeat=services_pb2.Heartbeat())
                    )
                    continue
            if self._urgent.is_set():
                if self._in_flight:
                    # Sends wait for the server to confirm what went before.
                    self._progress.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(SEND_GATHER_S):
                            await self._progress.wait()
            else:
                # Only RECEIPTs to send: those of the next moment go with them.
                gather = written_at + RECEIPT_GATHER_S - loop.time()
                if gather > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(gather):
                            await self._urgent.wait()
            batch: list[envelope_pb2.Envelope] = []
            while self._outbox and len(batch) < SEND_BATCH:
                entry = self._unconfirmed.get(self._outbox.popleft())
                if entry is not None:
                    batch.append(entry[0])
                    self._in_flight.add(entry[0].message_id)
            if not self._outbox:
                self._urgent.clear()
            if batch:
                request = services_pb2.SessionRequest(
                    envelopes=services_pb2.EnvelopeBatch(envelopes=batch)
                )
                await call.write(request)
                written_at = loop.time()
