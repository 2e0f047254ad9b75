"""Signed checkpoints of the audit log (https://c2sp.org/tlog-checkpoint).

A checkpoint is a signed note whose text is the log's tree head::

    <origin>
    <tree size, decimal, no leading zeroes>
    <base64 of the 32-byte RFC 6962 root hash>
    [<extension line>...]

The server signs one periodically and at the end of an exercise; with the verifier key,
anyone can check that a copy of the log is the one that was signed.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

from hotline.server.audit._codec import strict_b64decode
from hotline.server.audit.errors import MalformedCheckpoint, WrongOrigin
from hotline.server.audit.merkle import HASH_SIZE
from hotline.server.audit.note import Signer, Verifier, open_note, sign_note

__all__ = [
    "Checkpoint",
    "parse_and_verify_checkpoint",
    "parse_checkpoint",
    "sign_checkpoint",
]

_SIZE = re.compile(r"0|[1-9][0-9]*")
# Tree sizes are uint64 in every other implementation of the format.
_MAX_SIZE = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: who issued it, how many records it covers, and their root."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin:
            raise MalformedCheckpoint("the origin must be one non-empty line")
        if not 0 <= self.size <= _MAX_SIZE:
            raise MalformedCheckpoint(f"tree size {self.size} is not a 64-bit unsigned number")
        if len(self.root) != HASH_SIZE:
            raise MalformedCheckpoint(f"the root hash is {len(self.root)} bytes, not 32")
        for line in self.extensions:
            if not line or "\n" in line:
                raise MalformedCheckpoint("extension lines must be single non-empty lines")

    def body(self) -> str:
        """The note text of this checkpoint, ending in a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode()]
        return "\n".join([*lines, *self.extensions]) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """The checkpoint in a note text (the part of a signed note before the blank line).

    Raises :class:`MalformedCheckpoint` naming the line that is wrong: fewer than three
    lines, an empty origin, a size that is not canonical decimal, a root that is not the
    base64 of 32 bytes, an empty extension line, or text not ending in a newline.
    """
    if not text.endswith("\n"):
        raise MalformedCheckpoint("the checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedCheckpoint("a checkpoint has an origin, a tree size and a root hash")
    origin, size, root, *extensions = lines
    if not origin:
        raise MalformedCheckpoint("the origin line is empty")
    if not _SIZE.fullmatch(size) or int(size) > _MAX_SIZE:
        raise MalformedCheckpoint(f"tree size {size!r} is not a decimal number without sign")
    try:
        raw_root = strict_b64decode(root)
    except ValueError as exc:
        raise MalformedCheckpoint(f"the root hash line is {exc}") from None
    if len(raw_root) != HASH_SIZE:
        raise MalformedCheckpoint(f"the root hash is {len(raw_root)} bytes, not 32")
    if any(not line for line in extensions):
        raise MalformedCheckpoint("a checkpoint has an empty extension line")
    return Checkpoint(origin, int(size), raw_root, tuple(extensions))


def sign_checkpoint(
    origin: str, size: int, root: bytes, signer: Signer, extensions: Sequence[str] = ()
) -> str:
    """The signed note of the checkpoint ``(origin, size, root)``, signed by ``signer``.

    The signer's name SHOULD be the origin. Raises :class:`MalformedCheckpoint` for an
    empty or multi-line origin, a negative size, or a root that is not 32 bytes.
    """
    checkpoint = Checkpoint(origin, size, bytes(root), tuple(extensions))
    return sign_note(checkpoint.body(), signer)


def parse_and_verify_checkpoint(
    text: str | bytes,
    verifier: Verifier | Sequence[Verifier],
    *,
    origin: str | None = None,
) -> Checkpoint:
    """The checkpoint in a signed note, once a trusted key's signature on it verifies.

    Raises :class:`MalformedNote` or :class:`MalformedCheckpoint` if it does not parse,
    :class:`UnknownKey` if no trusted key signed it, :class:`BadSignature` if a trusted
    key's signature fails, and :class:`WrongOrigin` if ``origin`` is given and the
    checkpoint is from another log.
    """
    note = open_note(text, verifier)
    checkpoint = parse_checkpoint(note.text)
    if origin is not None and checkpoint.origin != origin:
        raise WrongOrigin(f"the checkpoint is for log {checkpoint.origin!r}, not {origin!r}")
    return checkpoint
