"""Files only the server's user may read: the data directory (0700), and in it the log
with its WAL, the keys and the tokens (0600).

Every message of the exercise is in the log, and the keys sign credentials and
checkpoints: none of them is for other users of the machine. Files made here are
private from the start; files found wider at start-up are reported, not changed (the
operator may have reasons, e.g. a group of auditors).
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "create_private_file",
    "make_private_directory",
    "too_open",
    "write_private",
    "write_public",
]

log = logging.getLogger(__name__)

#: Permission bits for group and others.
_SHARED = 0o077


def make_private_directory(path: Path) -> None:
    """Creates ``path`` (and missing parents) with mode 0700; an existing one is left
    as it is."""
    if path.is_dir():
        return
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask; this one is meant.
    os.chmod(path, 0o700)


def create_private_file(path: Path) -> None:
    """Creates an empty ``path`` with mode 0600 unless it exists (SQLite then keeps the
    mode for the log and gives it to the WAL and shared-memory files)."""
    make_private_directory(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)


def too_open(directory: Path, files: Iterable[Path]) -> list[str]:
    """``directory`` if others than its owner may use it, and those of ``files`` that
    others may read or write, each with its mode; warns of them."""
    found: list[str] = []
    try:
        mode = stat.S_IMODE(directory.stat().st_mode)
    except FileNotFoundError:
        mode = 0
    if mode & _SHARED:
        found.append(f"{directory} ({mode:o}, expected 700)")
    for path in files:
        try:
            status = path.lstat()
        except FileNotFoundError:
            continue
        mode = stat.S_IMODE(status.st_mode)
        if stat.S_ISREG(status.st_mode) and mode & _SHARED:
            found.append(f"{path} ({mode:o}, expected 600)")
    if found:
        log.warning(
            "readable by other users of this machine: %s; the log holds every message and "
            "the keys sign credentials (chmod 700 the directory, 600 the files)",
            ", ".join(found),
        )
    return found


def write_private(path: Path, data: bytes) -> None:
    """Writes a key or a credential readable by its owner alone (0600), replacing any."""
    make_private_directory(path.parent)
    temporary = path.with_name(path.name + ".new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def write_public(path: Path, data: bytes) -> None:
    """Writes a certificate or revocation list (0644: they are meant to be handed out)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".new")
    temporary.write_bytes(data)
    os.replace(temporary, path)
