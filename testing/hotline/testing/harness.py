"""A real hotline server on an ephemeral port, and the clients that talk to it.

``Harness`` runs ``hotline.server.app.serve`` in the test's event loop (real gRPC over
loopback, real SQLite log in a temp dir). ``ServerProcess`` runs ``hotline serve`` as a
child process, for tests that kill it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hotline.client import CHANNEL_OPTIONS, HotlineClient, StationClient, Tls, TokenSource
from hotline.server.app import serve
from hotline.server.exercise import (
    Deadlines,
    Exercise,
    Policy,
    default_exercise,
    parse_hotline,
)
from hotline.server.identity import Credential, TokenAuthority, load_or_create_secret
from hotline.server.settings import Settings
from hotline.v1 import common_pb2, envelope_pb2


def uniform_policy(receipt: float, response: float) -> Policy:
    """The same RECEIPT and response deadlines for every priority, a LINE TEST only
    every hour (its RECEIPT deadline the same)."""
    return Policy(
        deadlines={
            p: Deadlines(receipt=receipt, response=response)
            for p in (
                common_pb2.PRIORITY_FLASH,
                common_pb2.PRIORITY_IMMEDIATE,
                common_pb2.PRIORITY_PRIORITY,
                common_pb2.PRIORITY_ROUTINE,
            )
        },
        line_test_interval=3600.0,
        line_test_receipt=receipt,
    )


#: Deadlines short enough for tests: receipt 0.5 s, response 1.5 s, for every priority.
SHORT = uniform_policy(0.5, 1.5)
#: Deadlines that never fall due during a test.
RELAXED = Policy(line_test_interval=3600.0)

AIR = common_pb2.HOTLINE_AIR_OPERATIONS
GROUND = common_pb2.HOTLINE_GROUND_COMMANDERS
GENERALS = common_pb2.HOTLINE_GENERALS


@dataclass
class Harness:
    address: str
    data_dir: Path
    exercise: Exercise
    _authority: TokenAuthority = field(repr=False)
    #: How the harness's own clients secure their channel (None: plaintext); with mutual
    #: TLS, exercise control's certificate.
    tls: Tls | None = None

    def token(
        self,
        party: str,
        hotline: common_pb2.Hotline.ValueType | str,
        *,
        standby: bool = False,
        ttl_s: float = 7 * 24 * 3600,
    ) -> str:
        if isinstance(hotline, str):
            hotline = parse_hotline(hotline)
        return self._authority.issue(
            Credential(
                subject=f"{party} operator",
                role=common_pb2.ROLE_PARTICIPANT,
                party=party,
                hotline=hotline,
                operator=common_pb2.OPERATOR_STANDBY if standby else common_pb2.OPERATOR_PRIMARY,
            ),
            ttl_s,
        )

    def credential_of(self, token: str) -> Credential:
        """What the server reads from ``token`` (its id, its expiry ...)."""
        return self._authority.verify(token)

    def role_token(self, role: common_pb2.Role.ValueType) -> str:
        return self._authority.issue(Credential(subject="trainer", role=role))

    def role_token_for(self, role: common_pb2.Role.ValueType, *, ttl_s: float) -> str:
        """A token for ``role`` valid for ``ttl_s`` seconds."""
        return self._authority.issue(Credential(subject="trainer", role=role), ttl_s)

    def station(
        self,
        party: str,
        hotline: common_pb2.Hotline.ValueType,
        *,
        standby: bool = False,
        resume_after: int | None = None,
        max_queued: int = 10_000,
        channel_options: Sequence[tuple[str, int | str]] = CHANNEL_OPTIONS,
        token: TokenSource = "",
        tls: Tls | None = None,
    ) -> StationClient:
        """A station client, with a fresh token unless ``token`` is given, and the
        harness's TLS settings unless ``tls`` is given."""
        return StationClient(
            self.address,
            token if token != "" else self.token(party, hotline, standby=standby),
            tls=tls or self.tls,
            resume_after=resume_after,
            max_backoff=0.5,
            max_queued=max_queued,
            channel_options=channel_options,
        )

    def control(self) -> HotlineClient:
        return HotlineClient(
            self.address, self.role_token(common_pb2.ROLE_EXERCISE_CONTROL), tls=self.tls
        )


@contextlib.asynccontextmanager
async def running_server(
    data_dir: Path,
    exercise: Exercise | None = None,
    *,
    client_tls: Tls | None = None,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    """Serves in this event loop until the block ends (then a graceful stop).

    ``overrides`` are :class:`Settings` fields, e.g. ``database="postgresql://..."`` or
    ``tls_cert=...`` (see :class:`~hotline.testing.pki.ExercisePki`); ``client_tls`` is
    what the harness's clients use then.
    """
    exercise = exercise or default_exercise(RELAXED)
    settings = replace(Settings(listen="127.0.0.1:0", data_dir=data_dir), **overrides)
    port: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, exercise=exercise, ready=port.set_result, stop=stop))
    try:
        await asyncio.wait((task, port), return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
        authority = TokenAuthority(load_or_create_secret(settings.token_secret_file), exercise)
        yield Harness(f"127.0.0.1:{port.result()}", data_dir, exercise, authority, client_tls)
    finally:
        stop.set()
        await task


async def expect(
    station: StationClient,
    predicate: Callable[[envelope_pb2.Envelope], bool],
    within: float = 10.0,
    seen: list[envelope_pb2.Envelope] | None = None,
) -> envelope_pb2.Envelope:
    """The first delivery matching ``predicate``; the others go to ``seen``."""
    async with asyncio.timeout(within):
        while True:
            delivery = await station.next_delivery()
            if predicate(delivery):
                return delivery
            if seen is not None:
                seen.append(delivery)


def is_alert(kind: int) -> Callable[[envelope_pb2.Envelope], bool]:
    return lambda e: e.WhichOneof("body") == "alert" and e.alert.kind == kind


def is_ack(message_id: str, kind: int) -> Callable[[envelope_pb2.Envelope], bool]:
    return lambda e: (
        e.WhichOneof("body") == "acknowledgment"
        and e.acknowledgment.message_id == message_id
        and e.acknowledgment.kind == kind
    )


def body_of(envelopes: Iterable[envelope_pb2.Envelope]) -> list[str]:
    return [e.WhichOneof("body") or "" for e in envelopes]


class ServerProcess:
    """``hotline serve`` in a child process, on a port of its choosing."""

    def __init__(
        self,
        data_dir: Path,
        exercise_file: Path | None = None,
        database: str = "",
        options: Sequence[str] = (),
    ) -> None:
        self.data_dir = data_dir
        self.exercise_file = exercise_file
        self.database = database
        self.options = options
        self.process: subprocess.Popen[str] | None = None
        self.address = ""

    def start(self, within: float = 30.0) -> str:
        command = [
            sys.executable, "-m", "hotline.cli", "serve",
            "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir),
        ]  # fmt: skip
        if self.exercise_file is not None:
            command += ["--exercise", str(self.exercise_file)]
        if self.database:
            command += ["--db", self.database]
        command += self.options
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("hotline: serving on "):
            self.process.kill()
            raise RuntimeError(f"the server did not start: {line!r}")
        self.address = line.removeprefix("hotline: serving on ").strip()
        return self.address

    def kill(self) -> None:
        """``kill -9``: no flush, no goodbye."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(20)
