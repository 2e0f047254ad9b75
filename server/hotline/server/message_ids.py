"""Every message id the exercise has used: how a retried send is recognised.

An exercise that runs for days records millions of messages, and a retry may come at
any time, so the ids cannot all be held in memory. What is held is bounded or small:

- the :data:`RECENT` ids recorded last, with what a retry needs (sender, hotline,
  sequence number, content digest) — they cover every id not yet committed, and nearly
  every retry, which follows its first send within seconds;
- 8 bytes per id (:class:`SeenIds`): 28 bits of a hash of the id and the log index of
  the record that carries it, enough to tell a new id from one that may have been
  used, and to find the record of one that was;
- and, for the rare id that may have been used, the log itself: its record read by its
  index (the log's primary key) says whether it is that id, and what a retry needs.

Nothing is added to the log for this: no column, no second index to keep up on every
append.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from hotline.server.exercise import Hotline
from hotline.v1 import envelope_pb2

#: Ids held with everything a retry needs.
RECENT = 65_536
#: Ids gathered before they are merged into :class:`SeenIds`' sorted array.
_HASH_RUN = 16_384
#: A packed id: its hash in the high bits, its record's log index in the low ones.
_INDEX_BITS = 36
_HASH_BITS = 64 - _INDEX_BITS
_INDEX_MASK = (1 << _INDEX_BITS) - 1
#: The largest log index a packed id holds (68 billion records: a year at 2,000 a second).
MAX_INDEX = _INDEX_MASK
#: Bits of the hash that pick a bit of :class:`SeenIds`' filter (2^24 bits: 2 MiB).
_FILTER_BITS = 24
_FILTER_SHIFT = _HASH_BITS - _FILTER_BITS


def content_digest(envelope: envelope_pb2.Envelope) -> int:
    """64 bits that tell whether two envelopes with one message id say the same thing:
    what the sender said (hotline, priority, body), not when it sent it (a retry is sent
    again later) nor what the server added."""
    if envelope.replay_of:
        # Re-injected traffic is the recorded original again, its times moved to now.
        return _digest(envelope.replay_of.encode())
    content = envelope_pb2.Envelope()
    content.CopyFrom(envelope)
    # What the server sets on what a station sent is not part of what it sent.
    for name in ("sent_at", "sequence", "recorded_at", "audience"):
        content.ClearField(name)
    if content.HasField("acknowledgment"):
        content.acknowledgment.ClearField("responder")
        content.acknowledgment.ClearField("lateness")
        content.acknowledgment.ClearField("operator")
    return _digest(content.SerializeToString(deterministic=True))


def _digest(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class KnownMessage(NamedTuple):
    sender: str
    hotline: Hotline
    sequence: int
    #: :func:`content_digest` of a station's message; 0 for the server's own.
    digest: int


def id_hash(message_id: str) -> int:
    """The hash of a message id :class:`SeenIds` keeps (:data:`_HASH_BITS` bits)."""
    digest = hashlib.blake2b(message_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> _INDEX_BITS


def chunk_digest(chunk: bytes) -> bytes:
    """What a snapshot keeps of a chunk of :class:`SeenIds` stored beside it."""
    return hashlib.blake2b(chunk, digest_size=16).digest()


class SeenIds:
    """Message ids as 8 bytes each — a hash and the log index of the id's record — in
    one sorted array, with the ids added since it was last merged in a dict in front of
    it. A look-up is a dict look-up and one binary search. Every ``run`` ids the dict is
    sorted and merged into the array (a linear merge: milliseconds at a million ids),
    so adding costs O(n / run) amortised. In front of both, a filter of 2^24 bits (one
    set for every hash seen, by its top 24 bits) answers most look-ups of a new id at
    once: at a million ids, 94 in 100.

    Each run merged is also a *chunk*: a snapshot stores the chunks sealed since the
    one before it (:meth:`take_sealed`) and keeps only their digests, so what a snapshot
    writes does not grow with the exercise; a restart loads them all (:meth:`load`)."""

    def __init__(self, run: int = _HASH_RUN) -> None:
        self._sorted: npt.NDArray[np.uint64] = np.empty(0, dtype=np.uint64)
        # Hash -> index of the ids added since the last merge; a second id with the
        # same hash among them (rare: 28 bits) goes, packed, to the overflow list.
        self._fresh: dict[int, int] = {}
        self._overflow: list[int] = []
        self._run = run
        # Chunks merged and not yet handed to a snapshot, and the digest of every chunk.
        self._sealed: list[bytes] = []
        self._digests: list[bytes] = []
        self._filter = bytearray(1 << (_FILTER_BITS - 3))

    def __len__(self) -> int:
        return len(self._fresh) + len(self._overflow) + len(self._sorted)

    @property
    def nbytes(self) -> int:
        """Bytes held in the sorted array (all but the ids added last)."""
        return int(self._sorted.nbytes)

    def add(self, hashed: int, index: int) -> None:
        """Adds the id whose :func:`id_hash` is ``hashed``, recorded as record ``index``."""
        if not 0 <= index <= MAX_INDEX:
            raise ValueError(f"log index {index} is past {MAX_INDEX}")
        bit = hashed >> _FILTER_SHIFT
        self._filter[bit >> 3] |= 1 << (bit & 7)
        if hashed in self._fresh:
            self._overflow.append(hashed << _INDEX_BITS | index)
        else:
            self._fresh[hashed] = index
        if len(self._fresh) >= self._run:
            packed = [h << _INDEX_BITS | i for h, i in self._fresh.items()]
            packed += self._overflow
            fresh = np.sort(np.array(packed, dtype=np.uint64))
            self._fresh, self._overflow = {}, []
            self._sorted = np.insert(self._sorted, self._sorted.searchsorted(fresh), fresh)
            chunk = fresh.tobytes()
            self._sealed.append(chunk)
            self._digests.append(chunk_digest(chunk))

    def indexes(self, hashed: int) -> list[int]:
        """The log indexes of the ids added with this hash (usually none, or one)."""
        bit = hashed >> _FILTER_SHIFT
        if not self._filter[bit >> 3] & (1 << (bit & 7)):
            return []
        found = []
        index = self._fresh.get(hashed)
        if index is not None:
            found.append(index)
        if self._overflow:
            found += [p & _INDEX_MASK for p in self._overflow if p >> _INDEX_BITS == hashed]
        array = self._sorted
        at = int(array.searchsorted(np.uint64(hashed << _INDEX_BITS)))
        while at < len(array) and int(array[at]) >> _INDEX_BITS == hashed:
            found.append(int(array[at]) & _INDEX_MASK)
            at += 1
        return found

    # ------------------------------------------------------------------ snapshots

    def take_sealed(self) -> list[tuple[int, bytes]]:
        """The chunks sealed since the last call, with their numbers: what a snapshot
        stores beside itself."""
        first = len(self._digests) - len(self._sealed)
        sealed, self._sealed = self._sealed, []
        return list(enumerate(sealed, first))

    def digests(self) -> tuple[bytes, ...]:
        """The digest of every chunk, in order: what a snapshot keeps of them."""
        return tuple(self._digests)

    def load(self, chunks: Sequence[bytes], digests: Sequence[bytes]) -> None:
        """Takes back the chunks a snapshot stood for (checked against ``digests`` by
        the caller) after unpickling."""
        self._digests = list(digests)
        if chunks:
            stored = np.concatenate([np.frombuffer(c, dtype=np.uint64) for c in chunks])
            # Sorted runs, one after the other: a stable sort merges them.
            self._sorted = np.sort(stored, kind="stable")
        held = [h << _INDEX_BITS for h in self._fresh] + self._overflow
        packed = np.concatenate((self._sorted, np.array(held, dtype=np.uint64)))
        marked = np.zeros(1 << _FILTER_BITS, dtype=np.bool_)
        marked[packed >> np.uint64(_INDEX_BITS + _FILTER_SHIFT)] = True
        self._filter = bytearray(np.packbits(marked, bitorder="little").tobytes())

    def __getstate__(self) -> dict[str, object]:
        # The chunks are stored beside the snapshot, once each, not in it; the filter is
        # made again from them.
        return {"fresh": self._fresh, "overflow": self._overflow, "run": self._run}

    def __setstate__(self, state: dict[str, Any]) -> None:
        SeenIds.__init__(self, state["run"])
        self._fresh, self._overflow = state["fresh"], state["overflow"]


class MessageIds:
    """Message id -> (sender party, hotline, sequence number, content digest), for every
    id the exercise has used; ``find`` reads what the log says of one no longer held
    (see the module)."""

    def __init__(self, find: Callable[[int, str], KnownMessage | None] | None = None) -> None:
        self._recent: OrderedDict[str, KnownMessage] = OrderedDict()
        self._seen = SeenIds(_HASH_RUN)
        self._find = find
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, message_id: str) -> bool:
        return self.get(message_id) is not None

    def bind(self, find: Callable[[int, str], KnownMessage | None]) -> None:
        """Sets how an id no longer held is looked up: ``find(index, message_id)`` is
        what record ``index`` says of ``message_id``, None if it is another id's."""
        self._find = find

    def add(self, message_id: str, index: int, known: KnownMessage) -> None:
        """Adds ``message_id``, first recorded as record ``index``."""
        recent = self._recent
        if message_id not in recent:
            self._count += 1
            # Every id goes into the hashes at once, so that they alone stand for every
            # id in a snapshot.
            self._seen.add(id_hash(message_id), index)
        recent[message_id] = known
        if len(recent) > RECENT:
            recent.popitem(last=False)

    @property
    def seen(self) -> SeenIds:
        """Every id as 8 bytes (its chunks go beside a snapshot)."""
        return self._seen

    def state(self) -> tuple[SeenIds, int]:
        """What a snapshot pickles: the ids added since the last chunk, and the count;
        the chunks are stored beside it, the recent ids are in the log."""
        return self._seen, self._count

    def restore(
        self, state: tuple[SeenIds, int], chunks: Sequence[bytes], digests: Sequence[bytes]
    ) -> None:
        self._seen, self._count = state
        self._seen.load(chunks, digests)
        self._recent.clear()

    def get(self, message_id: str) -> KnownMessage | None:
        known = self._recent.get(message_id)
        if known is not None or self._find is None:
            return known
        for index in self._seen.indexes(id_hash(message_id)):
            known = self._find(index, message_id)
            if known is not None:
                return known
        return None
