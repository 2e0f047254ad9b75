"""Every message id the exercise has used: how a retried send is recognised.

An exercise that runs for days records millions of messages, and a retry may come at
any time, so the ids cannot all be held in memory. What is held is bounded or small:

- the :data:`RECENT` ids recorded last, with what a retry needs (sender, hotline,
  sequence number, content digest) — they cover every id not yet committed, and nearly
  every retry, which follows its first send within seconds;
- 8 bytes per id (:class:`SeenIds`, a 64-bit hash of each), enough to tell a new id
  from one that may have been used;
- and for the rare id that may have been used, the log itself: an index on the message
  id (``Backend.find_message``) gives the recorded envelope back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from hotline.server.exercise import Hotline
from hotline.v1 import envelope_pb2

#: Ids held with everything a retry needs.
RECENT = 65_536
#: Hashes gathered before they are sorted into :class:`SeenIds`' arrays.
_HASH_RUN = 4_096


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
    """The 64-bit hash :class:`SeenIds` keeps of a message id."""
    return int.from_bytes(hashlib.blake2b(message_id.encode(), digest_size=8).digest(), "big")


class SeenIds:
    """A set of 64-bit id hashes at 8 bytes each: sorted arrays whose sizes follow a
    binary counter (two of one size merge into one of twice the size), so a look-up
    searches a few arrays and adding costs O(log n) amortised, with no long pause."""

    def __init__(self) -> None:
        self._runs: list[npt.NDArray[np.uint64]] = []
        self._fresh: set[int] = set()

    def __len__(self) -> int:
        return len(self._fresh) + sum(len(run) for run in self._runs)

    @property
    def nbytes(self) -> int:
        """Bytes held in the sorted arrays (all but the last few thousand hashes)."""
        return sum(run.nbytes for run in self._runs)

    def add(self, hashed: int) -> None:
        self._fresh.add(hashed)
        if len(self._fresh) >= _HASH_RUN:
            run = np.sort(np.fromiter(self._fresh, dtype=np.uint64, count=len(self._fresh)))
            self._fresh = set()
            while self._runs and len(self._runs[-1]) <= len(run):
                run = np.sort(np.concatenate((self._runs.pop(), run)))
            self._runs.append(run)

    def __contains__(self, hashed: int) -> bool:
        if hashed in self._fresh:
            return True
        key = np.uint64(hashed)
        for run in self._runs:
            at = int(np.searchsorted(run, key))
            if at < len(run) and run[at] == key:
                return True
        return False


class MessageIds:
    """Message id -> (sender party, hotline, sequence number, content digest), for every
    id the exercise has used; ``find`` looks up one no longer held (see the module)."""

    def __init__(self, find: Callable[[str], KnownMessage | None] | None = None) -> None:
        self._recent: dict[str, KnownMessage] = {}
        self._seen = SeenIds()
        self._find = find
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __contains__(self, message_id: str) -> bool:
        return self.get(message_id) is not None

    def bind(self, find: Callable[[str], KnownMessage | None]) -> None:
        """Sets how an id no longer held is looked up."""
        self._find = find

    def add(
        self, message_id: str, sender: str, hotline: Hotline, sequence: int, digest: int = 0
    ) -> None:
        recent = self._recent
        if message_id not in recent:
            self._count += 1
            # Every id is hashed at once, so that the hashes alone stand for every id
            # in a snapshot.
            self._seen.add(id_hash(message_id))
        recent[message_id] = KnownMessage(sender, hotline, sequence, digest)
        if len(recent) > RECENT:
            del recent[next(iter(recent))]

    def state(self) -> tuple[SeenIds, int]:
        """What a snapshot keeps: the hashes of every id (8 bytes each) and their
        count; the recent ids are in the log."""
        return self._seen, self._count

    def restore(self, state: tuple[SeenIds, int]) -> None:
        self._seen, self._count = state
        self._recent.clear()

    def get(self, message_id: str) -> KnownMessage | None:
        known = self._recent.get(message_id)
        if known is not None:
            return known
        if self._find is None or id_hash(message_id) not in self._seen:
            return None
        return self._find(message_id)
