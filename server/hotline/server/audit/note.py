"""C2SP signed notes with Ed25519 keys (https://c2sp.org/signed-note).

A signed note is a text ending in a newline, a blank line, then one line per signature::

    — <key name> <base64(4-byte key id ‖ Ed25519 signature)>

Keys are written as golang.org/x/mod/sumdb/note writes them, so keys made here work with
Go tools and the other way round::

    verifier key  <name>+<8 hex digits of key id>+<base64(0x01 ‖ 32-byte public key)>
    signer key    PRIVATE+KEY+<name>+<8 hex digits of key id>+<base64(0x01 ‖ 32-byte seed)>

The key id is the first four bytes, big-endian, of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public
key).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hotline.server.audit._codec import strict_b64decode
from hotline.server.audit.errors import BadSignature, MalformedKey, MalformedNote, UnknownKey

__all__ = [
    "Note",
    "NoteSignature",
    "Signer",
    "Verifier",
    "generate_key",
    "is_valid_key_name",
    "key_id",
    "open_note",
    "parse_note",
    "parse_signer_key",
    "parse_verifier_key",
    "sign_note",
]

_ALG_ED25519 = 0x01
_SIG_PREFIX = "— "
# The spec asks verifiers to accept at least 16 signatures; Go's note package stops at
# 100. Past that, a note is more likely an attempt to make verification slow.
_MAX_SIGNATURES = 100
_HEX_ID = re.compile(r"[0-9a-f]{8}")
# Control characters other than newline are forbidden anywhere in a note.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


def is_valid_key_name(name: str) -> bool:
    """Key names are non-empty and contain neither Unicode spaces nor '+'."""
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def key_id(name: str, public_key: bytes) -> int:
    """The key id of an Ed25519 key: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([_ALG_ED25519]) + public_key)
    return int.from_bytes(digest.digest()[:4], "big")


class Verifier:
    """A trusted Ed25519 public key under a name; checks signatures made by its signer."""

    __slots__ = ("_key", "key_id", "name", "public_key")

    def __init__(self, name: str, public_key: bytes) -> None:
        """Raises :class:`MalformedKey` for an invalid name or a key that is not 32
        bytes."""
        if not is_valid_key_name(name):
            raise MalformedKey(f"key name {name!r} is empty or contains a space or '+'")
        if len(public_key) != 32:
            raise MalformedKey(f"an Ed25519 public key is 32 bytes, not {len(public_key)}")
        self.name = name
        self.public_key = bytes(public_key)
        self.key_id = key_id(name, self.public_key)
        self._key = Ed25519PublicKey.from_public_bytes(self.public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (without the key id) is this key's signature of
        ``message``."""
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def encode(self) -> str:
        """The verifier key string, ``<name>+<hex id>+<base64(0x01 ‖ public key)>``."""
        encoded = base64.b64encode(bytes([_ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def __repr__(self) -> str:
        return f"Verifier({self.encode()!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Verifier):
            return NotImplemented
        return (self.name, self.public_key) == (other.name, other.public_key)

    def __hash__(self) -> int:
        return hash((self.name, self.public_key))


class Signer:
    """A private Ed25519 key under a name. Its ``repr`` never shows the key."""

    __slots__ = ("_key", "_seed", "key_id", "name", "verifier")

    def __init__(self, name: str, seed: bytes) -> None:
        """Raises :class:`MalformedKey` for an invalid name or a seed that is not 32
        bytes."""
        if len(seed) != 32:
            raise MalformedKey(f"an Ed25519 private key seed is 32 bytes, not {len(seed)}")
        self._seed = bytes(seed)
        self._key = Ed25519PrivateKey.from_private_bytes(self._seed)
        public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = Verifier(name, public)
        self.name = name
        self.key_id = self.verifier.key_id

    def sign(self, message: bytes) -> bytes:
        """The Ed25519 signature of ``message`` (64 bytes, without the key id)."""
        return self._key.sign(message)

    def encode(self) -> str:
        """The signer key string, ``PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>``.
        It is a secret."""
        encoded = base64.b64encode(bytes([_ALG_ED25519]) + self._seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{encoded}"

    def __repr__(self) -> str:
        return f"Signer(name={self.name!r}, key_id={self.key_id:08x})"


def generate_key(name: str) -> tuple[Signer, Verifier]:
    """A new random Ed25519 key pair under ``name`` (by convention the log's origin).

    Raises :class:`MalformedKey` if ``name`` is not a valid key name.
    """
    if not is_valid_key_name(name):
        raise MalformedKey(f"key name {name!r} is empty or contains a space or '+'")
    seed = Ed25519PrivateKey.generate().private_bytes_raw()
    signer = Signer(name, seed)
    return signer, signer.verifier


def _parse_key(text: str, what: str, parts: int) -> tuple[list[str], int, bytes]:
    fields = text.split("+", parts - 1)
    if len(fields) != parts:
        raise MalformedKey(f"a {what} key has {parts} fields separated by '+'")
    name, hex_id, encoded = fields[-3:]
    if not is_valid_key_name(name):
        raise MalformedKey(f"the {what} key's name {name!r} is empty or contains a space")
    if not _HEX_ID.fullmatch(hex_id):
        raise MalformedKey(f"the {what} key id {hex_id!r} is not 8 lowercase hex digits")
    try:
        raw = strict_b64decode(encoded)
    except ValueError as exc:
        raise MalformedKey(f"the {what} key material is {exc}") from None
    if len(raw) != 33 or raw[0] != _ALG_ED25519:
        raise MalformedKey(f"the {what} key is not an Ed25519 key (0x01 and 32 bytes)")
    return fields, int(hex_id, 16), raw[1:]


def parse_verifier_key(text: str) -> Verifier:
    """The :class:`Verifier` of a verifier key string ``<name>+<hex id>+<base64 key>``.

    Raises :class:`MalformedKey` if a field is malformed, the key is not Ed25519, or the
    key id does not match the name and public key.
    """
    fields, expected_id, public = _parse_key(text.strip(), "verifier", 3)
    verifier = Verifier(fields[0], public)
    if verifier.key_id != expected_id:
        raise MalformedKey(
            f"the verifier key id {expected_id:08x} does not match its name and public key "
            f"({verifier.key_id:08x})"
        )
    return verifier


def parse_signer_key(text: str) -> Signer:
    """The :class:`Signer` of a signer key string
    ``PRIVATE+KEY+<name>+<hex id>+<base64 seed>``.

    Raises :class:`MalformedKey` if it does not start with ``PRIVATE+KEY+``, a field is
    malformed, or the key id does not match the name and derived public key.
    """
    fields, expected_id, seed = _parse_key(text.strip(), "signer", 5)
    if fields[0] != "PRIVATE" or fields[1] != "KEY":
        raise MalformedKey("a signer key starts with PRIVATE+KEY+")
    signer = Signer(fields[2], seed)
    if signer.key_id != expected_id:
        raise MalformedKey(
            f"the signer key id {expected_id:08x} does not match its name and public key "
            f"({signer.key_id:08x})"
        )
    return signer


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, key id and the signature bytes (without the id)."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        encoded = base64.b64encode(self.key_id.to_bytes(4, "big") + self.signature).decode()
        return f"{_SIG_PREFIX}{self.name} {encoded}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A parsed note: its text (ending in a newline) and its signatures."""

    text: str
    signatures: tuple[NoteSignature, ...]


def sign_note(text: str, *signers: Signer) -> str:
    """The signed note of ``text`` with one signature line per signer, in order.

    Raises :class:`MalformedNote` if ``text`` does not end in a newline, contains control
    characters other than newline, or no signer is given.
    """
    if not text.endswith("\n"):
        raise MalformedNote("the note text must end with a newline")
    if _CONTROL.search(text):
        raise MalformedNote("the note text contains a control character other than newline")
    if not signers:
        raise MalformedNote("a note needs at least one signature")
    message = text.encode()
    lines = [NoteSignature(s.name, s.key_id, s.sign(message)).line() for s in signers]
    return text + "\n" + "".join(lines)


def _decode(note: str | bytes) -> str:
    try:
        if isinstance(note, str):
            note.encode("utf-8")  # a str can hold lone surrogates, which UTF-8 cannot
            return note
        return note.decode("utf-8")
    except UnicodeError:
        raise MalformedNote("the note is not valid UTF-8") from None


def parse_note(note: str | bytes) -> Note:
    """Splits a signed note into text and signatures without checking any signature.

    Raises :class:`MalformedNote` when the note is not UTF-8, has control characters, no blank line
    before the signatures, a signature line that is not ``— <name> <base64>``, a
    signature shorter than 5 bytes, or more than 100 signatures.
    """
    note = _decode(note)
    if _CONTROL.search(note):
        raise MalformedNote("the note contains a control character other than newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNote("the note has no blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block or not block.endswith("\n"):
        raise MalformedNote("the note's signature block must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise MalformedNote(f"the note has more than {_MAX_SIGNATURES} signatures")
    signatures = []
    for number, line in enumerate(lines, start=1):
        if not line.startswith(_SIG_PREFIX):
            raise MalformedNote(f"signature line {number} does not start with '— '")
        name, _, encoded = line[len(_SIG_PREFIX) :].partition(" ")
        if not is_valid_key_name(name):
            raise MalformedNote(f"signature line {number} has an invalid key name {name!r}")
        try:
            raw = strict_b64decode(encoded)
        except ValueError as exc:
            raise MalformedNote(f"signature line {number}: the signature is {exc}") from None
        if len(raw) < 5:
            raise MalformedNote(f"signature line {number}: the signature is too short")
        signatures.append(NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return Note(text, tuple(signatures))


def open_note(note: str | bytes, verifiers: Verifier | Sequence[Verifier]) -> Note:
    """Parses a signed note and checks its signatures against the trusted ``verifiers``.

    Signatures from keys that are not trusted (name and key id must both match) are
    ignored, as the spec requires. Returns the note with only the verified signatures.

    Raises :class:`MalformedNote` (see :func:`parse_note`), :class:`BadSignature` if a
    signature from a trusted key does not verify, and :class:`UnknownKey` if no signature
    is from a trusted key.
    """
    trusted = [verifiers] if isinstance(verifiers, Verifier) else list(verifiers)
    by_id = {(v.name, v.key_id): v for v in trusted}
    parsed = parse_note(note)
    message = parsed.text.encode()
    verified: list[NoteSignature] = []
    for sig in parsed.signatures:
        verifier = by_id.get((sig.name, sig.key_id))
        if verifier is None or sig in verified:
            continue
        if not verifier.verify(message, sig.signature):
            raise BadSignature(
                f"the signature by {sig.name}+{sig.key_id:08x} does not match the note: "
                "the note was altered after it was signed, or the signature is forged"
            )
        verified.append(sig)
    if not verified:
        found = ", ".join(f"{s.name}+{s.key_id:08x}" for s in parsed.signatures)
        wanted = ", ".join(f"{v.name}+{v.key_id:08x}" for v in trusted) or "none"
        raise UnknownKey(f"the note is signed by {found}, not by a trusted key ({wanted})")
    return Note(parsed.text, tuple(verified))
