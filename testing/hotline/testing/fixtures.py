"""The pytest fixtures of the throwaway servers and the recorded exercises, for a
``conftest.py`` to register::

    pytest_plugins = ("hotline.testing.fixtures",)

Without the Mosquitto or PostgreSQL binaries, or a Docker engine, the tests that need
them are skipped, except under CI (``$CI`` set), where that is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import pytest_asyncio

from hotline.testing import docker
from hotline.testing.mosquitto import Mosquitto, mosquitto_broker
from hotline.testing.pki import ExercisePki
from hotline.testing.postgres import PostgresServer, start_postgres
from hotline.testing.recorded import Recordings


def _missing(error: FileNotFoundError) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(str(error))
    pytest.skip(str(error))


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A fresh broker per test, with the documented password file and ACL."""
    with contextlib.ExitStack() as stack:
        try:
            broker = stack.enter_context(mosquitto_broker(tmp_path / "mosquitto"))
        except FileNotFoundError as error:
            _missing(error)
        yield broker


@pytest.fixture
def mosquitto_tls(tmp_path: Path) -> Iterator[Mosquitto]:
    """A fresh broker with a TLS listener too, its certificates from an exercise PKI in
    ``tmp_path / "mqtt-pki"`` (:class:`~hotline.testing.pki.ExercisePki`)."""
    pki = ExercisePki(tmp_path / "mqtt-pki")
    with contextlib.ExitStack() as stack:
        try:
            broker = stack.enter_context(
                mosquitto_broker(tmp_path / "mosquitto", tls_directory=pki.directory)
            )
        except FileNotFoundError as error:
            _missing(error)
        yield broker


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole test session."""
    try:
        server = start_postgres()
    except FileNotFoundError as error:
        _missing(error)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    """The URL of a new, empty database for this test."""
    return postgres_server.create_database(request.node.name)


@pytest.fixture(scope="session")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Recordings:
    """The exercises recorded through a real server in this session, each once."""
    return Recordings(tmp_path_factory)


@pytest.fixture(scope="session")
def docker_images() -> None:
    """The images of ``docker/build-images``, built once per session (in seconds when
    they are there already)."""
    reason = docker.engine_missing()
    if reason is not None:
        _missing(FileNotFoundError(reason))
    docker.build_images()


@pytest_asyncio.fixture
async def docker_stack(docker_images: None, tmp_path: Path) -> AsyncIterator[docker.DockerStack]:
    """A hotline stack in containers for this test (:mod:`hotline.testing.docker`):
    the server on PostgreSQL and Mosquitto, on a free loopback port with mutual TLS;
    removed, with its networks and volumes, when the test ends. Started and removed in a
    worker thread: the test's event loop goes on meanwhile (closing its clients)."""
    stack = docker.DockerStack(tmp_path / "stack")
    try:
        await asyncio.to_thread(stack.start)
        yield stack
    finally:
        await asyncio.to_thread(stack.remove)
