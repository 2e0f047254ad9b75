"""Assembles and runs the service: the switchboard behind the gRPC adapters.

``serve`` runs until SIGTERM/SIGINT (or the ``stop`` event): then sessions are ended,
the gRPC server stops, and the log is flushed and closed.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from contextlib import suppress
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from hotline.server.admission import Admission, Revocations, RevokedIds
from hotline.server.api.common import service_handler
from hotline.server.api.exercise import ExerciseService, ZoneService
from hotline.server.api.replay import ReplayService
from hotline.server.api.stations import StationService
from hotline.server.audit.trail import server_trail
from hotline.server.bridge import Bridge, parse_format
from hotline.server.checks import Checks
from hotline.server.checks_process import ChecksProcess
from hotline.server.errors import ConfigurationError
from hotline.server.exercise import Exercise, default_exercise, load_exercise
from hotline.server.identity import TokenAuthority, load_or_create_secret
from hotline.server.private_files import create_private_file, make_private_directory, too_open
from hotline.server.settings import Settings
from hotline.server.storage import is_postgres_url, open_backend
from hotline.server.switchboard import Switchboard
from hotline.server.tls import server_credentials
from hotline.server.urls import redacted
from hotline.v1 import services_pb2

log = logging.getLogger(__name__)

#: Largest stream message accepted (a batch of envelopes).
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
SHUTDOWN_GRACE_S = 2.0
SERVICES = ("StationService", "ExerciseService", "ZoneService", "ReplayService")


def load_settings_exercise(settings: Settings) -> Exercise:
    if settings.exercise_file is None:
        return default_exercise()
    return load_exercise(settings.exercise_file)


def make_checks(exercise: Exercise) -> Checks:
    """The deconfliction checks for the exercise's separation policy, in a child
    process beside the event loop."""
    return ChecksProcess(exercise.policy.separation)


def _private_data(settings: Settings) -> None:
    """Warns of data files other users may read; makes the data directory (0700) and
    the SQLite log (0600) private if they are new."""
    location = settings.database_location
    log_file = None if is_postgres_url(location) else Path(location)
    sensitive = [settings.token_secret_file, settings.signing_key_file, settings.revoked_ids_file]
    if log_file is not None:
        sensitive += [log_file, *(log_file.with_name(log_file.name + s) for s in ("-wal", "-shm"))]
    too_open(settings.data_dir, sensitive)
    make_private_directory(settings.data_dir)
    if log_file is not None:
        create_private_file(log_file)


def make_admission(settings: Settings, exercise: Exercise) -> Admission:
    """How the server authenticates callers: the exercise's token key, and with mutual
    TLS the client CA's revocation list."""
    tokens = TokenAuthority(load_or_create_secret(settings.token_secret_file), exercise)
    revocations = None
    if settings.revocations is not None and settings.client_ca is not None:
        revocations = Revocations(settings.revocations, settings.client_ca)
    return Admission(tokens, exercise, revocations, RevokedIds(settings.revoked_ids_file))


def _transport(settings: Settings) -> grpc.ServerCredentials | None:
    """The listener's TLS credentials, None for plaintext (on loopback only)."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    return server_credentials(settings.tls_cert, settings.tls_key, settings.client_ca)


def _listen(
    server: grpc.aio.Server, settings: Settings, credentials: grpc.ServerCredentials | None
) -> int:
    """Opens the listener: TLS (mutual with a client CA) or, on loopback, plaintext."""
    if credentials is None:
        log.warning(
            "listening in plaintext on loopback %s: only processes on this machine can "
            "connect; give --tls-cert and --tls-key to serve a network",
            settings.listen,
        )
        return _bound(settings, server.add_insecure_port, settings.listen)
    log.info(
        "listening on TLS%s",
        " with client certificates required (mutual TLS)" if settings.client_ca else "",
    )
    return _bound(settings, server.add_secure_port, settings.listen, credentials)


def _bound(settings: Settings, add_port: Callable[..., int], *args: object) -> int:
    """The port ``add_port`` bound; a ConfigurationError if it could not bind."""
    try:
        return add_port(*args)
    except RuntimeError:
        raise ConfigurationError(
            f"cannot listen on {settings.listen}: the port is in use, or the address is "
            "not this machine's"
        ) from None


async def _watch_revocations(
    admission: Admission, switchboard: Switchboard, interval: float
) -> None:
    """Re-reads the revocation list when it changes and ends the revoked credentials'
    open sessions at once."""
    revocations = admission.revocations
    assert revocations is not None
    while True:
        await asyncio.sleep(interval)
        before = revocations.revoked
        revocations.refresh()
        if revocations.revoked - before:
            ended = switchboard.end_sessions(
                admission.is_revoked, "the credential was revoked by exercise control"
            )
            log.info("revocation list changed: %d open sessions ended", ended)


def _helpers(
    settings: Settings, admission: Admission, switchboard: Switchboard, bridge: Bridge | None
) -> list[tuple[str, Coroutine[Any, Any, None]]]:
    """What runs beside the switchboard: the MQTT bridge, the revocation list's watch."""
    helpers: list[tuple[str, Coroutine[Any, Any, None]]] = []
    if bridge is not None:
        helpers.append(("mqtt-bridge", bridge.run()))
    if admission.revocations is not None:
        watch = _watch_revocations(admission, switchboard, settings.revocation_check_s)
        helpers.append(("revocations", watch))
    return helpers


def _mqtt_bridge(settings: Settings, switchboard: Switchboard) -> Bridge | None:
    """The MQTT bridge if a broker is configured (by the server's settings, else by the
    exercise file), attached to the switchboard."""
    url, payload_format = settings.mqtt_url, settings.mqtt_format
    broker = switchboard.exercise.broker
    if not url and broker is not None:
        url, payload_format = broker.url, broker.payload_format
    if not url:
        return None
    return Bridge(
        switchboard, settings.broker_address(url), settings.data_dir, parse_format(payload_format)
    )


async def serve(
    settings: Settings,
    *,
    exercise: Exercise | None = None,
    ready: Callable[[int], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Runs the service until ``stop`` is set or the process is told to terminate."""
    exercise = exercise or load_settings_exercise(settings)
    transport = _transport(settings)
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ]
    )
    # Bound before anything is written: a port in use stops the start with nothing done.
    port = _listen(server, settings, transport)
    _private_data(settings)
    admission = make_admission(settings, exercise)
    trail = server_trail(settings, exercise.exercise_id) if settings.audit else None
    backend = open_backend(settings.database_location, durable=settings.durable)
    switchboard = Switchboard(
        exercise,
        backend,
        checks=make_checks(exercise) if settings.deconfliction else None,
        trail=trail,
        snapshot_every=settings.snapshot_every_records,
    )
    recovered = switchboard.recover()
    bridge = _mqtt_bridge(settings, switchboard)
    switchboard.start()
    await switchboard.raise_missed_alerts()

    server.add_generic_rpc_handlers(
        (
            service_handler(StationService(switchboard, admission), "StationService"),
            service_handler(ExerciseService(switchboard, admission), "ExerciseService"),
            service_handler(ZoneService(switchboard, admission), "ZoneService"),
            service_handler(ReplayService(switchboard, admission), "ReplayService"),
        )
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [services_pb2.DESCRIPTOR.services_by_name[s].full_name for s in SERVICES]
    reflection.enable_server_reflection(
        (
            *names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ),
        server,
    )
    await server.start()
    for name in ("", *names):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info(
        "exercise %r: %d records recovered from %s; listening on port %d",
        exercise.exercise_id,
        recovered,
        redacted(settings.database_location),
        port,
    )
    if ready is not None:
        ready(port)

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        async with asyncio.TaskGroup() as tasks:
            running = tasks.create_task(switchboard.run(), name="switchboard")
            stopped = tasks.create_task(stop.wait(), name="stop")
            failed = tasks.create_task(switchboard.failed.wait(), name="log-failure")
            # Owned here and cancelled with the rest; none of them holds up the hotlines.
            helpers = [
                tasks.create_task(work, name=name)
                for name, work in _helpers(settings, admission, switchboard, bridge)
            ]
            await asyncio.wait((stopped, failed), return_when=asyncio.FIRST_COMPLETED)
            for task in (running, stopped, failed, *helpers):
                task.cancel()
    finally:
        await health_servicer.enter_graceful_shutdown()
        switchboard.begin_shutdown()
        await server.stop(SHUTDOWN_GRACE_S)
        await switchboard.close()
        if bridge is not None:
            await bridge.drain()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    log.info("stopped; the log is flushed")
