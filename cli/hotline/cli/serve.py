"""``hotline serve``: run the service."""

from __future__ import annotations

import argparse
import gc
import os
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

from hotline.server.app import serve
from hotline.server.errors import ConfigurationError
from hotline.server.exercise import Exercise
from hotline.server.scenario import load_scenario, scaled_exercise
from hotline.server.scenario.model import MAX_TIME_SCALE
from hotline.server.settings import Settings


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="run the service",
        description="Run the hotline service. With no options: the built-in two-party "
        "exercise, its log in ./hotline-data/hotline.sqlite, listening in plaintext on "
        "127.0.0.1:50051 (loopback only: a network address needs --tls-cert and --tls-key).",
    )
    parser.add_argument("--listen", help="HOST:PORT to listen on (env HOTLINE_LISTEN)")
    parser.add_argument("--data-dir", type=Path, help="data directory (env HOTLINE_DATA_DIR)")
    parser.add_argument("--db", help="SQLite file or postgresql:// URL (env HOTLINE_DB)")
    parser.add_argument("--exercise", type=Path, help="exercise TOML file (env HOTLINE_EXERCISE)")
    parser.add_argument(
        "--scenario",
        type=Path,
        help="run the exercise of this scenario file (see 'hotline exercise'), its "
        "deadlines and line tests divided by the scenario's time scale",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        help="with --scenario: exercise time per wall second instead of the scenario's",
    )
    parser.add_argument(
        "--no-deconfliction",
        action="store_true",
        help="do not run the deconfliction checks (zones, separation, notices)",
    )
    parser.add_argument(
        "--no-audit",
        action="store_true",
        help="neither hash nor sign the log, to measure what the audit trail costs; the "
        "log cannot be verified and the trail cannot be turned back on for it",
    )
    parser.add_argument(
        "--no-fsync",
        action="store_true",
        help="do not fsync every commit (survives a crash of the process, not of the machine)",
    )
    parser.add_argument(
        "--mqtt",
        metavar="URL",
        help="publish the log to, and take position feeds from, an MQTT broker: "
        "mqtt://user:password@host:1883, or mqtts:// for TLS (env HOTLINE_MQTT; see "
        "docs/mqtt.md)",
    )
    parser.add_argument(
        "--mqtt-format",
        choices=("json", "protobuf"),
        help="payloads of the published records (env HOTLINE_MQTT_FORMAT; default json)",
    )
    for option, env, what in (
        ("--mqtt-ca", "HOTLINE_MQTT_CA", "for mqtts://: the CA of the broker's certificate"),
        ("--mqtt-cert", "HOTLINE_MQTT_CERT", "the bridge's certificate, if the broker asks"),
        ("--mqtt-key", "HOTLINE_MQTT_KEY", "its key"),
    ):
        parser.add_argument(option, type=Path, help=f"{what} (env {env})")
    tls = parser.add_argument_group("transport security (see 'hotline pki')")
    tls.add_argument(
        "--tls-cert",
        type=Path,
        help="the server's certificate (chain), PEM: listen on TLS only (env HOTLINE_TLS_CERT)",
    )
    tls.add_argument("--tls-key", type=Path, help="its private key (env HOTLINE_TLS_KEY)")
    tls.add_argument(
        "--client-ca",
        type=Path,
        help="require a client certificate from this CA: mutual TLS (env HOTLINE_CLIENT_CA)",
    )
    tls.add_argument(
        "--revocations",
        type=Path,
        help="the revocation list from 'hotline pki revoke', re-read when it changes "
        "(env HOTLINE_REVOCATIONS; needs --client-ca)",
    )
    parser.set_defaults(run=run)


#: Options naming files, each the Settings field of the same name.
_FILES = ("tls_cert", "tls_key", "client_ca", "revocations", "mqtt_ca", "mqtt_cert", "mqtt_key")


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings.from_environment(os.environ)
    if args.listen:
        settings = replace(settings, listen=args.listen)
    if args.data_dir:
        settings = replace(settings, data_dir=args.data_dir)
    if args.db:
        settings = replace(settings, database=args.db)
    if args.exercise:
        settings = replace(settings, exercise_file=args.exercise)
    if args.no_deconfliction:
        settings = replace(settings, deconfliction=False)
    if args.no_audit:
        settings = replace(settings, audit=False)
    if args.no_fsync:
        settings = replace(settings, durable=False)
    if args.mqtt:
        settings = replace(settings, mqtt_url=args.mqtt)
    if args.mqtt_format:
        settings = replace(settings, mqtt_format=args.mqtt_format)
    for name in (
        "tls_cert",
        "tls_key",
        "client_ca",
        "revocations",
        "mqtt_ca",
        "mqtt_cert",
        "mqtt_key",
    ):
        if getattr(args, name):
            settings = replace(settings, **{name: getattr(args, name)})
    return settings.checked()


def _tune_collector() -> None:
    """The garbage collector, set for a server that holds a large live state for hours.

    What exists once the server is up (modules, the exercise, the state recovered from
    the log) lives as long as the process: frozen, full collections no longer walk it (one
    took up to 50 ms, with nothing delivered meanwhile). Young collections run after
    20,000 allocations instead of 700: the server allocates briskly and keeps little of
    it, and every 10th collection of the middle generation walks all the live state
    (pending messages, deadlines) again. Measured with 100,000 messages awaiting answers:
    routing 6-9 % slower instead of 12-19 %.
    """
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def _ready(settings: Settings) -> Any:
    def announce(port: int) -> None:
        _tune_collector()
        host = settings.listen.rpartition(":")[0]
        print(f"hotline: serving on {host}:{port}", flush=True)

    return announce


def _check_free(listen: str) -> None:
    """Refuses an address the server could not listen on (another server has it), before
    the server writes anything: a bind that fails later would leave a data directory
    behind. The port stays free; the server binds it again at once."""
    named, _, port = listen.rpartition(":")
    host = named.strip("[]") or None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            # As the server's own socket: a port that only lingers after a close is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigurationError(f"cannot listen on {listen}: {reason.lower()}") from None


def _scenario_exercise(args: argparse.Namespace) -> Exercise | None:
    """The exercise of ``--scenario`` at its time scale (or ``--time-scale``)."""
    if args.scenario is None:
        if args.time_scale is not None:
            raise ConfigurationError("--time-scale: only with --scenario")
        return None
    if args.exercise:
        raise ConfigurationError(
            "--exercise: the scenario names its exercise; give one or the other"
        )
    if args.time_scale is not None and not 1 <= args.time_scale <= MAX_TIME_SCALE:
        raise ConfigurationError(
            f"--time-scale: {args.time_scale:g} is not from 1 to {MAX_TIME_SCALE:g}"
        )
    scenario = load_scenario(args.scenario)
    if args.time_scale is not None:
        scenario = scenario.with_time_scale(args.time_scale)
    assert scenario.exercise is not None
    return scaled_exercise(scenario.exercise, scenario.time_scale)


async def run(args: argparse.Namespace) -> int:
    try:
        settings = settings_from(args)
        exercise = _scenario_exercise(args)
        _check_free(settings.listen)
        await serve(settings, exercise=exercise, ready=_ready(settings))
    except ConfigurationError as error:
        raise SystemExit(f"hotline serve: {error}") from None
    return 0
