"""A hotline stack in Docker containers, for integration tests: the images that
``docker/build-images`` makes (nothing is pulled), started on a free loopback port with
a PKI made at start, and removed with everything it created.

:class:`DockerStack` runs the server on PostgreSQL with its MQTT bridge to Mosquitto,
on mutual TLS, with one network for the server and its services and one per party for
that party's station containers (:meth:`DockerStack.station`), so that a party's line
can be cut. The host reaches the server at :attr:`DockerStack.address` with the
certificates in :attr:`DockerStack.pki` (:meth:`DockerStack.tls`). The ``docker_stack``
fixture (:mod:`hotline.testing.fixtures`) builds the images once per session and skips
where no Docker engine answers, except under CI (``$CI`` set), where that is a failure.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hotline.client import Tls
from hotline.testing.mosquitto import OBSERVER, PASSWORDS, Mosquitto

#: The repository this module is part of (the fixtures run from a checkout).
REPOSITORY = Path(__file__).resolve().parents[3]
BUILD_SCRIPT = REPOSITORY / "docker" / "build-images"

#: The bound on any one wait for a container (a start, a health check, a log line).
#: Every wait follows an event; this only turns one that would hang into a failure.
HANG_GUARD_S = 90.0

#: The parties' stations that get a certificate; the exercise is the built-in two
#: parties with line tests every few seconds and FLASH answers owed within seconds.
STATIONS = ("BLUE/AIR_OPERATIONS", "RED/AIR_OPERATIONS")
EXERCISE = """\
[exercise]
id = "docker-test"
name = "Docker integration test"

[[parties]]
id = "BLUE"
name = "Coalition"

[[parties]]
id = "RED"
name = "Russian Group of Forces"

[policy]
line_test_interval = "3s"
line_test_receipt = "2s"

[policy.deadlines.FLASH]
receipt = "5s"
response = "4s"
"""
PG_PASSWORD = "hotline-log"
MQTT_PASSWORD = "bridge-secret"
#: The broker's users: the bridge, and an observer for subscribers on the host (the
#: password of :data:`hotline.testing.mosquitto.PASSWORDS`).
MQTT_USERS = (f"hotline-bridge:{MQTT_PASSWORD}", f"{OBSERVER}:{PASSWORDS[OBSERVER]}")


class DockerError(RuntimeError):
    """A docker command failed; the message holds its output."""


def docker(*arguments: str, check: bool = True) -> str:
    """``docker ARGUMENTS``; its standard output. :class:`DockerError` if it fails."""
    done = subprocess.run(
        ["docker", *arguments], check=False, capture_output=True, text=True, timeout=HANG_GUARD_S
    )
    if check and done.returncode != 0:
        raise DockerError(f"docker {' '.join(arguments)}: {done.stderr.strip()}")
    return done.stdout


def engine_missing() -> str | None:
    """Why no Docker engine can be used here, or None when one answers."""
    try:
        docker("version", "--format", "{{.Server.Version}}")
    except FileNotFoundError:
        return "the docker command is missing"
    except DockerError as error:
        return f"no Docker engine answers ({error})"
    return None


def build_images() -> None:
    """``docker/build-images``: builds what is missing, in seconds when nothing is."""
    done = subprocess.run([str(BUILD_SCRIPT)], check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise DockerError(f"docker/build-images failed:\n{done.stdout}\n{done.stderr}")


def _each(flag: str, *values: str) -> list[str]:
    """``flag`` before each value: ``--env A --env B``."""
    return [item for value in values for item in (flag, value)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DockerStack:
    """One stack; every container, network and volume it creates is named after
    :attr:`name`, and :meth:`remove` removes them all."""

    directory: Path
    name: str = field(default_factory=lambda: f"hotline-test-{secrets.token_hex(4)}")
    port: int = field(default_factory=_free_port)
    #: The broker's port on the host.
    mqtt_port: int = field(default_factory=_free_port)
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def broker(self) -> Mosquitto:
        """The broker's container as :mod:`hotline.testing.mosquitto` sees a broker: its
        ``client()`` connects from the host as the observer."""
        return Mosquitto("", self.directory / "broker", self.mqtt_port)

    @property
    def pki(self) -> Path:
        """Copies of the PKI's certificates and keys, for clients on the host."""
        return self.directory / "pki"

    @property
    def server(self) -> str:
        return f"{self.name}-server"

    @property
    def database_url(self) -> str:
        """The log's URL, as the containers on the stack's network reach it."""
        return f"postgresql://hotline:{PG_PASSWORD}@{self.name}-postgres:5432/hotline"

    def network(self, which: str) -> str:
        """The network of the server and its services (``core``) or of a party."""
        return f"{self.name}-{which.lower()}"

    def volume(self, which: str) -> str:
        return f"{self.name}-{which}"

    def tls(self, stem: str) -> Tls:
        """TLS with the certificate ``stem``.crt (e.g. ``RED-AIR_OPERATIONS-primary``,
        ``control``) for a client on the host."""
        return Tls.from_files(
            self.pki / "ca.crt", self.pki / f"{stem}.crt", self.pki / f"{stem}.key"
        )

    # ------------------------------------------------------------------ start, stop

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        exercise = self.directory / "exercise.toml"
        exercise.write_text(EXERCISE)
        exercise.chmod(0o644)
        for which in ("core", "blue", "red"):
            self.networks.append(docker("network", "create", self.network(which)).strip())
        for which in ("pki", "data", "log", "broker"):
            self.volumes.append(docker("volume", "create", self.volume(which)).strip())
        self._make_pki()
        self._run(
            "postgres",
            _each("--env", f"HOTLINE_PG_PASSWORD={PG_PASSWORD}")
            + _each("--volume", f"{self.volume('log')}:/var/lib/postgresql/data"),
            image="hotline-postgres",
        )
        self._run(
            "mosquitto",
            _each("--env", f"HOTLINE_MQTT_USERS={' '.join(MQTT_USERS)}")
            + _each("--volume", f"{self.volume('broker')}:/mosquitto")
            + _each("--publish", f"127.0.0.1:{self.mqtt_port}:1883"),
            image="hotline-mosquitto",
        )
        self.wait_healthy(f"{self.name}-postgres")
        broker = f"mqtt://hotline-bridge:{MQTT_PASSWORD}@{self.name}-mosquitto:1883"
        self._run(
            "server",
            _each(
                "--env",
                "HOTLINE_EXERCISE=/etc/hotline/exercise.toml",
                f"HOTLINE_DB={self.database_url}",
                f"HOTLINE_MQTT={broker}",
                "HOTLINE_CLIENT_CA=/pki/ca.crt",
                "HOTLINE_CHECKPOINT_SECONDS=2",
            )
            + _each(
                "--volume",
                f"{self.volume('pki')}:/pki:ro",
                f"{self.volume('data')}:/data",
                f"{exercise}:/etc/hotline/exercise.toml:ro",
            )
            + _each("--publish", f"127.0.0.1:{self.port}:50051"),
            image="hotline-server",
        )
        for party in ("blue", "red"):
            docker("network", "connect", self.network(party), self.server)
        self.wait_serving()

    def _make_pki(self) -> None:
        maker = f"{self.name}-pki"
        docker(
            "run", "--name", maker, "--network", "none",
            "--volume", f"{self.volume('pki')}:/pki",
            "--volume", f"{self.directory / 'exercise.toml'}:/etc/hotline/exercise.toml:ro",
            "--env", "HOTLINE_EXERCISE=/etc/hotline/exercise.toml",
            "--env", f"HOTLINE_PKI_SERVER_NAMES={self.server} localhost 127.0.0.1",
            "--env", f"HOTLINE_PKI_STATIONS={' '.join(STATIONS)}",
            "--entrypoint", "hotline-init-pki", "hotline-tools:latest",
        )  # fmt: skip
        try:
            docker("cp", f"{maker}:/pki/.", str(self.pki))
        finally:
            docker("rm", maker)

    def _run(self, role: str, options: list[str], *, image: str) -> str:
        container = f"{self.name}-{role}"
        self.containers.append(container)
        docker(
            "run", "--detach", "--name", container, "--network", self.network("core"),
            *options, f"{image}:latest",
        )  # fmt: skip
        return container

    def station(self, party: str, hotline: str = "AIR_OPERATIONS") -> str:
        """A container running the station console (plain lines, input kept open) as
        ``party``'s station on ``hotline``, on the party's network; its name."""
        container = f"{self.name}-{party.lower()}-{hotline.lower().replace('_', '-')}"
        stem = f"/pki/{party}-{hotline}-primary"
        self.containers.append(container)
        docker(
            "run", "--detach", "--interactive", "--name", container,
            "--network", self.network(party),
            "--volume", f"{self.volume('pki')}:/pki:ro",
            "--env", f"HOTLINE_ADDRESS={self.server}:50051",
            "--env", "HOTLINE_CA=/pki/ca.crt",
            "--env", f"HOTLINE_CERT={stem}.crt", "--env", f"HOTLINE_KEY={stem}.key",
            "hotline-tools:latest", "station", "--plain", "--give-up", "0",
        )  # fmt: skip
        self.wait_log(container, "connected as")
        return container

    def tools(self, *arguments: str) -> str:
        """``hotline ARGUMENTS`` in a tools container on the server's network, with the
        data volume (the verifier key) mounted read-only at /data; its output."""
        return docker(
            "run", "--rm", "--network", self.network("core"),
            "--volume", f"{self.volume('data')}:/data:ro",
            "hotline-tools:latest", *arguments,
        )  # fmt: skip

    def remove(self) -> None:
        """Removes every container, network and volume of the stack;
        :class:`DockerError` naming any that is still there after."""
        if self.containers:
            docker("rm", "--force", "--volumes", *self.containers, check=False)
        if self.networks:
            docker("network", "rm", *self.networks, check=False)
        if self.volumes:
            docker("volume", "rm", "--force", *self.volumes, check=False)
        named = ("--filter", f"name={self.name}", "--format", "{{.Name}}")
        left = (
            docker("ps", "--all", "--filter", f"name={self.name}", "--format", "{{.Names}}")
            + docker("network", "ls", *named)
            + docker("volume", "ls", *named)
        ).split()
        if left:
            raise DockerError(f"left behind: {', '.join(left)}")

    # ------------------------------------------------------------------ waits

    def logs(self, container: str) -> str:
        done = subprocess.run(
            ["docker", "logs", container],
            check=False,
            capture_output=True,
            text=True,
            timeout=HANG_GUARD_S,
        )
        return done.stdout + done.stderr

    def wait_log(self, container: str, text: str, count: int = 1) -> str:
        """Waits until ``text`` has appeared ``count`` times in the container's output."""
        deadline = time.monotonic() + HANG_GUARD_S
        while time.monotonic() < deadline:
            output = self.logs(container)
            if output.count(text) >= count:
                return output
            if docker("inspect", "--format", "{{.State.Running}}", container).strip() != "true":
                raise DockerError(f"{container} stopped before {text!r}:\n{output}")
            time.sleep(0.2)
        raise DockerError(f"{container}: no {text!r} within {HANG_GUARD_S} s:\n{output}")

    def wait_serving(self, count: int = 1) -> None:
        """Waits for the server's ``count``-th start to listen."""
        self.wait_log(self.server, "hotline: serving on", count)

    def health(self, container: str) -> str:
        return docker("inspect", "--format", "{{.State.Health.Status}}", container).strip()

    def wait_healthy(self, container: str) -> None:
        deadline = time.monotonic() + HANG_GUARD_S
        while (status := self.health(container)) != "healthy":
            if time.monotonic() > deadline or status == "unhealthy":
                raise DockerError(f"{container} is {status}:\n{self.logs(container)}")
            time.sleep(0.2)


@contextlib.contextmanager
def docker_stack(directory: Path) -> Iterator[DockerStack]:
    """A started stack (images built first, if missing), removed when the block ends."""
    build_images()
    stack = DockerStack(directory)
    try:
        stack.start()
        yield stack
    finally:
        stack.remove()
