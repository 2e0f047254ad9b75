"""Errors of the audit-log integrity checks.

These are raised by offline tools (the verifier, proof export) and by the code that signs
checkpoints; they are deliberately separate from :mod:`hotline.server.errors`, whose
classes map to gRPC statuses. Three families:

* :class:`MalformedInput` — text that does not parse: a note, a checkpoint, a key, a
  proof bundle. The message names the part that is wrong.
* :class:`SignatureError` — a well-formed note that is not signed by a trusted key.
* :class:`ProofError` — hashes that do not agree: an inclusion proof that does not lead
  to the signed root, two tree heads that are not versions of one log.

:class:`WrongOrigin` stands apart: a valid, signed checkpoint, of another log.
"""

# Short names that say what happened (UnknownKey, BadSignature, ...) read better where
# they are caught than an "Error" suffix on every class, as in hotline.server.errors.

from __future__ import annotations

__all__ = [
    "AuditError",
    "BadSignature",
    "InconsistentTree",
    "InvalidProof",
    "MalformedCheckpoint",
    "MalformedInput",
    "MalformedKey",
    "MalformedNote",
    "MalformedProofBundle",
    "NotInLog",
    "ProofError",
    "SignatureError",
    "UnknownKey",
    "WrongOrigin",
]


class AuditError(Exception):
    """Base of every audit-log integrity error; ``message`` says what was wrong."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedInput(AuditError):
    """Input that does not follow its format."""


class MalformedNote(MalformedInput):
    """A signed note that breaks the C2SP signed-note syntax."""


class MalformedCheckpoint(MalformedInput):
    """A note text that is not a C2SP tlog-checkpoint body."""


class MalformedKey(MalformedInput):
    """A signer or verifier key string that cannot be decoded, or whose key id does not
    match its name and public key."""


class MalformedProofBundle(MalformedInput):
    """A proof bundle that is not the JSON document :func:`export_proof` writes."""


class SignatureError(AuditError):
    """A note that is not signed by a trusted key."""


class UnknownKey(SignatureError):
    """No signature on the note is from a trusted key (name and key id both match)."""


class BadSignature(SignatureError):
    """A signature from a trusted key does not verify: the note was altered after signing
    or the signature was forged."""


class WrongOrigin(AuditError):
    """A validly signed checkpoint of another log (its origin line is not the one
    expected)."""


class NotInLog(AuditError):
    """The log has no such record, or no signed checkpoint covers it yet."""


class ProofError(AuditError):
    """Hashes that should agree do not."""


class InvalidProof(ProofError):
    """An inclusion proof does not lead from the record to the signed root."""


class InconsistentTree(ProofError):
    """Two tree heads are not versions of the same append-only log."""
