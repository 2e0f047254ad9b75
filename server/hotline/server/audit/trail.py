"""The server side of the audit trail: leaf hashes, the growing tree, signed checkpoints.

The log writer hands every batch to :meth:`AuditTrail.seal` before storing it; the trail
hashes each record as a leaf, extends its Merkle tree (O(log n) per record) and, when the
policy says so, signs a checkpoint of the tree as it will be once the batch is stored, to
be written in the same transaction. A checkpoint is signed every ``every_records``
records, at least every ``every_seconds`` while records are unsigned, whenever a batch
holds a record that ends something (the server stopping), and at close.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hotline.server.audit.checkpoint import parse_and_verify_checkpoint, sign_checkpoint
from hotline.server.audit.errors import AuditError
from hotline.server.audit.merkle import MerkleTree
from hotline.server.audit.note import Signer, generate_key, parse_signer_key
from hotline.server.errors import ConfigurationError
from hotline.server.private_files import make_private_directory
from hotline.server.settings import Settings
from hotline.server.storage import Backend, StoredCheckpoint, StoredRecord
from hotline.v1 import log_pb2

__all__ = [
    "SEALING_KINDS",
    "UNHASHED",
    "AuditTrail",
    "CheckpointPolicy",
    "load_or_create_signer",
    "origin_for",
    "server_trail",
]

log = logging.getLogger(__name__)

#: Record kinds after which a checkpoint is signed at once: they end something a trainer
#: will want proven as it stood.
SEALING_KINDS = frozenset({log_pb2.RECORD_KIND_SERVER_STOPPED})

#: The leaf hash stored with a record written without a trail (``hotline serve
#: --no-audit``): nothing to verify it against, so such a log is never signed or verified.
UNHASHED = b""

_NOT_IN_NAME = re.compile(r"[\s+]+")
# Leaf hashes read per query while resuming the tree.
_RESUME_BATCH = 1 << 16


def origin_for(exercise_id: str) -> str:
    """The origin line (and signing key name) of an exercise's log:
    ``hotline/<exercise id>``, with spaces and '+' (forbidden in key names) as '-'."""
    return "hotline/" + (_NOT_IN_NAME.sub("-", exercise_id.strip()) or "exercise")


def load_or_create_signer(path: Path, name: str, *, create: bool = True) -> Signer:
    """The signing key stored at ``path`` (a C2SP signer key string); with ``create``, a
    new one named ``name`` is generated and written there (mode 0600) if the file does
    not exist. Raises :class:`ConfigurationError` if it is missing and may not be
    created, unreadable, or not a signer key."""
    try:
        return parse_signer_key(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        if not create:
            raise ConfigurationError(f"signing key {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"signing key {path}: {error}") from None
    except AuditError as error:
        raise ConfigurationError(f"signing key {path}: {error.message}") from None
    signer, _ = generate_key(name)
    make_private_directory(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process created it first: use theirs.
        return load_or_create_signer(path, name, create=False)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(signer.encode() + "\n")
    log.info("generated a new signing key in %s", path)
    return signer


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    """When to sign: every ``every_records`` records, and no later than
    ``every_seconds`` after the first unsigned record was stored."""

    every_records: int = 1000
    every_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.every_records < 1 or self.every_seconds <= 0:
            raise ConfigurationError("checkpoints need a positive record count and interval")


class AuditTrail:
    """Leaf hashes, Merkle tree and checkpoint signing for one log. Used by the log's
    writer thread only (not thread-safe)."""

    def __init__(
        self,
        signer: Signer,
        origin: str,
        policy: CheckpointPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.signer = signer
        self.origin = origin
        self.policy = policy or CheckpointPolicy()
        self.tree = MerkleTree()
        self._clock = clock
        self._signed_size = 0
        # When the oldest unsigned record was stored; None while everything is signed.
        self._unsigned_since: float | None = None

    @property
    def signed_size(self) -> int:
        """Size of the last checkpoint signed."""
        return self._signed_size

    def resume(self, backend: Backend) -> None:
        """Rebuilds the tree of a stored log: from the frontier saved with its latest
        checkpoint plus the records after it, or from every leaf hash if it has none.

        Raises :class:`ConfigurationError` if the latest checkpoint is not signed by this
        trail's key, or its saved frontier does not lead to its signed root: the log or
        the key is not what this server wrote, and it must not sign on top of it; or if a
        record was stored without a leaf hash (by a server with the trail off).
        """
        latest = backend.latest_checkpoint()
        tree = MerkleTree()
        if latest is not None:
            try:
                signed = parse_and_verify_checkpoint(latest.note, self.signer.verifier)
            except AuditError as error:
                raise ConfigurationError(
                    f"the log's latest checkpoint does not verify with this server's key "
                    f"({self.signer.verifier.encode()}): {error.message}; use the key the "
                    "log was written with, or start a new log"
                ) from None
            self.origin = signed.origin
            try:
                tree = MerkleTree.from_frontier(latest.size, latest.frontier)
            except ValueError:
                tree = MerkleTree()
            if tree.size != signed.size or tree.root() != signed.root:
                log.warning("the stored tree frontier is damaged; rehashing the log")
                tree = MerkleTree()
            self._signed_size = signed.size
        while True:
            hashes = backend.leaf_hashes(tree.size, tree.size + _RESUME_BATCH)
            if UNHASHED in hashes:
                raise ConfigurationError(
                    f"record {tree.size + hashes.index(UNHASHED)} of the log was stored with "
                    "the audit trail off (hotline serve --no-audit, for benchmarks only): "
                    "the log cannot be signed; start a new log, or keep serving it with "
                    "--no-audit"
                )
            tree.extend(hashes)
            if len(hashes) < _RESUME_BATCH:
                break
        if latest is not None and tree.size < self._signed_size:
            raise ConfigurationError(
                f"the log has {tree.size} records but its latest checkpoint signs "
                f"{self._signed_size}: records were removed"
            )
        self.tree = tree
        if tree.size > self._signed_size:
            # Stored after the last checkpoint (the server was not stopped cleanly);
            # they are signed with the next checkpoint.
            log.warning("%d records after the last checkpoint", tree.size - self._signed_size)
            self._unsigned_since = self._clock()

    def seal(self, records: Sequence[StoredRecord]) -> tuple[list[bytes], list[StoredCheckpoint]]:
        """The leaf hashes of ``records`` (appended to the tree) and the checkpoints to
        store with them: one at each multiple of ``every_records`` since the last, and
        one over the whole batch if it ends something or the interval has passed."""
        sha256 = hashlib.sha256
        leaves = [sha256(b"\x00" + r.data).digest() for r in records]
        if leaves and self._unsigned_since is None:
            self._unsigned_since = self._clock()
        signed: list[StoredCheckpoint] = []
        done = 0
        while True:
            room = self.policy.every_records - (self.tree.size - self._signed_size)
            if len(leaves) - done < room:
                break
            self.tree.extend(leaves[done : done + room])
            done += room
            signed.append(self._sign())
            if done < len(leaves):
                self._unsigned_since = self._clock()
        self.tree.extend(leaves[done:])
        if any(r.kind in SEALING_KINDS for r in records) or self.seconds_to_checkpoint() == 0.0:
            last = self.checkpoint()
            if last is not None:
                signed.append(last)
        return leaves, signed

    def seconds_to_checkpoint(self) -> float | None:
        """How long until a checkpoint is due by time; ``None`` if all is signed."""
        if self._unsigned_since is None or self.tree.size == self._signed_size:
            return None
        return max(0.0, self._unsigned_since + self.policy.every_seconds - self._clock())

    def checkpoint(self) -> StoredCheckpoint | None:
        """A checkpoint of the tree as it is, or ``None`` if the last one covers it."""
        if self.tree.size == self._signed_size:
            return None
        return self._sign()

    def _sign(self) -> StoredCheckpoint:
        tree = self.tree
        note = sign_checkpoint(self.origin, tree.size, tree.root(), self.signer)
        self._signed_size = tree.size
        self._unsigned_since = None
        return StoredCheckpoint(tree.size, note, tree.frontier)


def server_trail(settings: Settings, exercise_id: str) -> AuditTrail:
    """The trail a server signs its log with, from its settings: the signer key file
    (generated if it is the default and missing), the verifier key written next to the
    data for auditors and announced in the log, and the checkpoint policy. Raises
    :class:`ConfigurationError` for an unusable key file."""
    origin = origin_for(exercise_id)
    signer = load_or_create_signer(
        settings.signing_key_file, origin, create=settings.signing_key is None
    )
    public = signer.verifier.encode()
    try:
        settings.verifier_key_file.parent.mkdir(parents=True, exist_ok=True)
        settings.verifier_key_file.write_text(public + "\n", encoding="ascii")
    except OSError as error:
        raise ConfigurationError(f"cannot write {settings.verifier_key_file}: {error}") from None
    log.info("audit log signed by verifier key %s (in %s)", public, settings.verifier_key_file)
    policy = CheckpointPolicy(settings.checkpoint_every_records, settings.checkpoint_every_seconds)
    return AuditTrail(signer, origin, policy)
