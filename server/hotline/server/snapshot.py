"""Snapshots of the server's live state, so that a restart costs the same however long
the exercise has run.

Every :data:`SNAPSHOT_RECORDS` records, and when it stops, the server writes down what
it would otherwise rebuild by reading the whole log — pending deadlines and chains,
zones, hotline state, the message ids' filter, and the deconfliction picture — as it
stood after record ``index - 1``. It is stored in the same transaction as a batch of
records that reaches that index (``RecordLog.append_snapshot``), so it never stands for
records that are not durable. A restart reads the latest snapshot and then only the
records after it.

The filter of message ids is the largest part (1 MiB, whatever the exercise's length)
and the one that changes least usefully: a snapshot carries it only when the one that
does is :data:`FILTER_RECORDS` records old or more. The others name that snapshot
(``filter_at``), which is kept beside the latest, and a restart sets the bits of the
records in between from their stored message keys.

A snapshot is a cache of what the log already says, not a record: the audit trail does
not cover it, only the latest is kept, and whenever it cannot be used — written by
another version, for another exercise configuration, damaged, or not signed by this
server's key — the server reads the whole log instead, which gives the same state. It
is signed with the log's own key (Ed25519, over its SHA-256) because it is unpickled:
nobody without that key can make the server load one.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import struct
from dataclasses import dataclass, field

from hotline.server.audit import Signer, Verifier
from hotline.server.storage import StoredSnapshot

__all__ = [
    "FILTER_RECORDS",
    "SNAPSHOT_BYTES_PER_RECORD",
    "SNAPSHOT_RECORDS",
    "LiveState",
    "open_snapshot",
    "seal_snapshot",
]

log = logging.getLogger(__name__)

#: Records between two snapshots: what a restart reads at most after the latest one...
SNAPSHOT_RECORDS = 5_000
#: ... unless the live state is large (much traffic still open: tens of thousands of
#: messages nobody answers): then the snapshots are spaced so that writing them costs
#: each record about the pickling of this many bytes (some microseconds), and a restart
#: reads correspondingly more records after the latest one.
SNAPSHOT_BYTES_PER_RECORD = 100
#: Records after the snapshot that carries the filter of message ids before another
#: carries it again: at most what a restart reads of message keys (not records) for it.
FILTER_RECORDS = 50_000
#: Changes whenever what a snapshot holds changes shape.
_FORMAT = b"hotline-snapshot/6\n"
_HEADER = struct.Struct(">Q64s")


@dataclass(slots=True)
class LiveState:
    """What the switchboard and the deconfliction checks hold after record
    ``index - 1``, each pickled by its owner at that moment; ``exercise`` is the
    configuration it was built under (its serialised ``Exercise``): another
    configuration rebuilds from the log. ``message_ids`` is
    :meth:`~hotline.server.message_ids.MessageIds.state` (a filter of a fixed size, kept
    apart from the switchboard's pickled objects); its filter is empty when
    ``filter_at`` names the snapshot that carries it. ``keys_since_filter`` is filled
    when it is read back: the message keys of the records between that snapshot and
    this one."""

    index: int
    exercise: bytes
    switchboard: bytes
    checks: bytes
    message_ids: tuple[bytes, int] = (b"", 0)
    filter_at: int | None = None
    keys_since_filter: list[int] = field(default_factory=list)


def _signed_message(index: int, state: bytes) -> bytes:
    return _FORMAT + index.to_bytes(8, "big") + hashlib.sha256(state).digest()


def seal_snapshot(signer: Signer, live: LiveState) -> StoredSnapshot:
    """The snapshot as stored: the state pickled, behind its index and signature."""
    state = pickle.dumps(live, protocol=pickle.HIGHEST_PROTOCOL)
    signature = signer.sign(_signed_message(live.index, state))
    sealed = _FORMAT + _HEADER.pack(live.index, signature) + state
    return StoredSnapshot(live.index, sealed, keeps=live.filter_at)


def open_snapshot(verifier: Verifier, stored: StoredSnapshot, exercise: bytes) -> LiveState | None:
    """The live state of a stored snapshot, or ``None`` (with the reason logged) when it
    cannot be used and the log is to be read from its start."""
    data = stored.state
    if not data.startswith(_FORMAT) or len(data) < len(_FORMAT) + _HEADER.size:
        log.info("the stored snapshot is of another version; reading the whole log")
        return None
    index, signature = _HEADER.unpack_from(data, len(_FORMAT))
    state = data[len(_FORMAT) + _HEADER.size :]
    if index != stored.index or not verifier.verify(_signed_message(index, state), signature):
        log.warning("the stored snapshot is not signed by this server's key; reading the log")
        return None
    try:
        live = pickle.loads(state)
    except Exception:  # a class that changed shape since: the log says the same
        log.warning("the stored snapshot cannot be read; reading the whole log", exc_info=True)
        return None
    if not isinstance(live, LiveState) or live.index != index:
        return None
    if live.exercise != exercise:
        log.info("the exercise's configuration changed since the snapshot; reading the log")
        return None
    return live
