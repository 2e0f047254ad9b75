"""The durable, append-only log of the exercise, with group commit.

The event loop hands records to :meth:`RecordLog.append` (which never blocks); one writer
thread stores everything queued since its last commit in a single transaction, then
reports the committed batch back to the loop in order. Nothing is delivered to a station
or confirmed to a sender before that report: what a sender was told is recorded, stays
recorded after ``kill -9``.

The writer also keeps the audit trail (:class:`~hotline.server.audit.trail.AuditTrail`):
each batch is stored with its records' leaf hashes and, when one is due, a signed
checkpoint, in the same transaction; a last checkpoint is signed at :meth:`close`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from hotline.server.audit.trail import UNHASHED, AuditTrail
from hotline.server.errors import Unavailable
from hotline.server.snapshot import LiveState, open_snapshot, seal_snapshot
from hotline.server.storage import Backend, StoredCheckpoint, StoredRecord, StoredSnapshot

log = logging.getLogger(__name__)

#: Most records written in one transaction.
MAX_BATCH = 4096


@dataclass
class _Queue:
    records: deque[StoredRecord] = field(default_factory=deque)
    # The latest snapshot handed over, and how many records had been appended then: it
    # is stored with the batch that reaches that count.
    snapshot: tuple[int, LiveState] | None = None
    lock: threading.Condition = field(default_factory=threading.Condition)
    closing: bool = False


class RecordLog:
    """Appends records through one writer thread; reads through reader threads."""

    def __init__(
        self,
        backend: Backend,
        on_commit: Callable[[list[StoredRecord]], None],
        on_failure: Callable[[BaseException], None],
        trail: AuditTrail | None = None,
    ) -> None:
        """``trail`` hashes records and signs checkpoints; without one (``hotline serve
        --no-audit``, to measure the trail's cost), records are stored with an empty leaf
        hash and nothing is signed: such a log cannot be verified."""
        self._backend = backend
        self._trail = trail
        self._reader = backend.reader()
        self._reader_lock = threading.Lock()
        # The event loop's own connection, for one record now and then: it never waits
        # behind the reader threads' long reads.
        self._lookup = backend.reader()
        self._on_commit = on_commit
        self._on_failure = on_failure
        self._queue = _Queue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None
        self._appended = 0
        self._wake_pending = False
        self._committed = 0
        self._size = 0
        self._commit_waiters: list[tuple[int, asyncio.Future[None]]] = []
        #: The index of the latest stored snapshot that carries the filter of message
        #: ids (see :mod:`hotline.server.snapshot`), once one is.
        self.filter_stored: int | None = None

    def recover(self, start: int = 0) -> Iterator[StoredRecord]:
        """Every stored record from ``start`` on, in order, for rebuilding state before
        :meth:`start`."""
        return self._backend.read(start)

    def latest_snapshot(self, exercise: bytes) -> LiveState | None:
        """The live state of the snapshot stored last, if it can be used (see
        :mod:`hotline.server.snapshot`); read before :meth:`start`. Without an audit
        trail there is no key to trust a snapshot with, and none is kept."""
        stored = self._backend.latest_snapshot() if self._trail is not None else None
        if stored is None or self._trail is None:
            return None
        verifier = self._trail.signer.verifier
        live = open_snapshot(verifier, stored, exercise)
        if live is None or live.filter_at is None:
            self.filter_stored = None if live is None else live.index
            return live
        # The filter of message ids is in an earlier snapshot, kept for it.
        held = self._backend.snapshot_at(live.filter_at)
        holder = None if held is None else open_snapshot(verifier, held, exercise)
        if holder is None or holder.filter_at is not None:
            log.warning("the snapshot that holds the filter of message ids cannot be used")
            return None
        live.message_ids = (holder.message_ids[0], live.message_ids[1])
        live.keys_since_filter = self._backend.message_keys(holder.index, live.index)
        self.filter_stored = holder.index
        return live

    def append_snapshot(self, live: LiveState) -> None:
        """Stores ``live`` (the state after records ``0 .. live.index - 1``) in the same
        transaction as a batch that holds every record appended so far — those records
        and whatever the state's making added after them — so it is never durable
        without the records it stands for. Signed and stored by the writer thread."""
        queue = self._queue
        with queue.lock:
            if queue.closing or self._failure is not None or self._trail is None:
                return
            queue.snapshot = (self._size + self._appended, live)
            queue.lock.notify()

    def with_message_key(self, key: int) -> list[StoredRecord]:
        """The committed records stored with ``message_key`` ``key``, read in the event
        loop (one index look-up: for an id that may have been used, no longer held in
        memory)."""
        return self._lookup.with_message_key(key)

    def start(self, size: int | None = None) -> None:
        """Resumes the audit trail over the stored log of ``size`` records (counted if
        not given) and starts the writer. Raises
        :class:`~hotline.server.errors.ConfigurationError` if the stored log was not
        signed with the trail's key."""
        self._loop = asyncio.get_running_loop()
        self._size = self._backend.size() if size is None else size
        if self._trail is not None:
            self._trail.resume(self._backend)
        self._thread = threading.Thread(target=self._write_forever, name="log-writer")
        self._thread.start()

    def append(self, record: StoredRecord) -> None:
        """Queues ``record``; its commit is reported to ``on_commit``."""
        if self._failure is not None:
            raise Unavailable(f"the log cannot be written: {self._failure}")
        queue = self._queue
        if queue.closing:  # set by :meth:`close`, in this thread
            raise Unavailable("the server is shutting down")
        # A deque's append is atomic: the writer is woken once for all the records the
        # event loop appends in one turn, not once for each.
        queue.records.append(record)
        self._appended += 1
        if not self._wake_pending:
            self._wake_pending = True
            if self._loop is None:
                self._wake_writer()
            else:
                self._loop.call_soon(self._wake_writer)

    def _wake_writer(self) -> None:
        self._wake_pending = False
        queue = self._queue
        with queue.lock:
            queue.lock.notify()

    @property
    def pending(self) -> int:
        """Records queued but not yet committed."""
        return self._appended - self._committed

    async def flush(self) -> None:
        """Waits until everything appended so far is committed."""
        if self._committed >= self._appended:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._commit_waiters.append((self._appended, waiter))
        await waiter

    async def close(self) -> None:
        """Commits what is queued, stops the writer and closes the storage."""
        queue = self._queue
        with queue.lock:
            queue.closing = True
            queue.lock.notify()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        self._reader.close()
        self._lookup.close()
        self._backend.close()

    async def hotline_items(self, hotline: int, after_sequence: int) -> list[StoredRecord]:
        return await asyncio.to_thread(self._read_hotline, hotline, after_sequence)

    async def records(self, start: int, end: int | None = None) -> list[StoredRecord]:
        return await asyncio.to_thread(self._read_range, start, end)

    async def at_sequence(self, hotline: int, sequence: int) -> StoredRecord | None:
        """The committed record numbered ``sequence`` on ``hotline``, if there is one
        (one index look-up, in a worker thread)."""
        return await asyncio.to_thread(self._read_at_sequence, hotline, sequence)

    def _read_at_sequence(self, hotline: int, sequence: int) -> StoredRecord | None:
        with self._reader_lock:
            return self._reader.at_sequence(hotline, sequence)

    def _read_hotline(self, hotline: int, after_sequence: int) -> list[StoredRecord]:
        with self._reader_lock:
            return list(self._reader.hotline_items(hotline, after_sequence))

    def _read_range(self, start: int, end: int | None) -> list[StoredRecord]:
        with self._reader_lock:
            return list(self._reader.read(start, end))

    def _write_forever(self) -> None:
        queue = self._queue
        trail = self._trail
        # One past the last record stored.
        stored_end = self._size
        while True:
            with queue.lock:
                while not queue.records and queue.snapshot is None and not queue.closing:
                    due = trail.seconds_to_checkpoint() if trail is not None else None
                    if due == 0.0:
                        break
                    queue.lock.wait(due)
                count = min(len(queue.records), MAX_BATCH)
                batch = [queue.records.popleft() for _ in range(count)]
                live: LiveState | None = None
                if queue.snapshot is not None and queue.snapshot[0] <= stored_end + count:
                    _, live = queue.snapshot
                    queue.snapshot = None
                closing = queue.closing and not queue.records
            checkpoints: list[StoredCheckpoint] = []
            if trail is not None:
                leaves, checkpoints = trail.seal(batch)
            else:
                leaves = [UNHASHED] * len(batch)
            if closing and trail is not None:
                # Whatever the last checkpoint left unsigned is signed now.
                final = trail.checkpoint()
                if final is not None:
                    checkpoints.append(final)
            snapshot = None
            if live is not None and trail is not None:
                snapshot = seal_snapshot(trail.signer, live)
            if batch or checkpoints or snapshot is not None:
                if not self._store(batch, leaves, checkpoints, snapshot):
                    return
                stored_end += len(batch)
                if live is not None and live.filter_at is None:
                    self.filter_stored = live.index
            if batch:
                assert self._loop is not None
                self._loop.call_soon_threadsafe(self._committed_batch, batch)
            if closing:
                return

    def _store(
        self,
        batch: list[StoredRecord],
        leaves: list[bytes],
        checkpoints: list[StoredCheckpoint],
        snapshot: StoredSnapshot | None,
    ) -> bool:
        try:
            self._backend.append(batch, leaves, checkpoints, snapshot)
        except BaseException as error:
            log.critical("the log could not be written; stopping", exc_info=True)
            self._report_failure(error)
            return False
        for checkpoint in checkpoints:
            log.debug("signed checkpoint at size %d", checkpoint.size)
        return True

    def _report_failure(self, error: BaseException) -> None:
        self._failure = error
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._on_failure, error)

    def _committed_batch(self, batch: list[StoredRecord]) -> None:
        self._committed += len(batch)
        self._on_commit(batch)
        if self._commit_waiters:
            still: list[tuple[int, asyncio.Future[None]]] = []
            for target, waiter in self._commit_waiters:
                if self._committed >= target:
                    if not waiter.done():
                        waiter.set_result(None)
                else:
                    still.append((target, waiter))
            self._commit_waiters = still
