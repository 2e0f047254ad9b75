"""Fixtures shared by every test module; those of the throwaway servers and recorded
exercises come from :mod:`hotline.testing.fixtures`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import traceback
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs among the dev dependencies
import pytest

from hotline.server.exercise import default_exercise
from hotline.testing.harness import SHORT, Harness, running_server

pytest_plugins = ("hotline.testing.fixtures",)


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Harness]:
    """The built-in two-party exercise with relaxed deadlines, served on loopback."""
    async with running_server(tmp_path / "data") as harness:
        yield harness


@pytest.fixture
async def short_server(tmp_path: Path) -> AsyncIterator[Harness]:
    """The two-party exercise with deadlines of a second or so (see harness.SHORT)."""
    async with running_server(tmp_path / "data", default_exercise(SHORT)) as harness:
        yield harness


# ---------------------------------------------------------------------- nothing left behind

#: The bound on waiting for a thread that was told to stop to end.
THREAD_END_S = 10.0
#: grpc.aio's poller thread runs a method of this class (its module and name).
_GRPC_POLLER = ("grpc._cython.cygrpc", "PollerCompletionQueue")


@dataclass(frozen=True)
class _Running:
    """The threads and child processes alive at a moment."""

    threads: frozenset[threading.Thread]
    children: frozenset[psutil.Process]

    @staticmethod
    def now() -> _Running:
        return _Running(
            frozenset(t for t in threading.enumerate() if t.is_alive()),
            frozenset(psutil.Process().children(recursive=True)),
        )

    def threads_since(self, before: _Running) -> list[threading.Thread]:
        return [t for t in self.threads - before.threads if t.is_alive()]


def _is_grpc_poller(thread: threading.Thread) -> bool:
    """grpc.aio's poller thread: it runs while any grpc.aio channel or server exists in
    the process, and ends once the last one is freed (grpc does not wait for it)."""
    owner = type(getattr(getattr(thread, "_target", None), "__self__", None))
    return (owner.__module__, owner.__qualname__) == _GRPC_POLLER


def _release_logged_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    """The records of logged exceptions keep their tracebacks, and those the locals of
    every frame (a server's RPC context, say) until the test's report is made; their text
    is already written. The locals are let go so that the test alone decides what lives."""
    for record in [*caplog.get_records("setup"), *caplog.get_records("call"), *caplog.records]:
        if record.exc_info and record.exc_info[2] is not None:
            traceback.clear_frames(record.exc_info[2])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests in containers (marker ``docker``) run after the rest."""
    items.sort(key=lambda item: item.get_closest_marker("docker") is not None)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Everything the test modules imported is set aside from garbage collection: the
    collection after each test (``_nothing_left_running``) then looks only at what tests
    made, in milliseconds rather than the 40 to 90 ms a full collection takes here."""
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _nothing_left_running(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """Fails a test that leaves a thread or a child process running once it and its
    fixtures are done (and its event loop closed).

    What the test dropped is collected first: a grpc.aio channel or server in a reference
    cycle lives on until then, and with it grpc's poller thread, which ends once the last
    one is freed. Any other thread must have ended already. A test that failed is not
    checked (the report of its failure holds on to what it was using); its child
    processes are killed all the same."""
    before = _Running.now()
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before:
        _kill(_Running.now().children - before.children)
        return
    if _Running.now().threads_since(before):
        _release_logged_tracebacks(caplog)
        gc.collect()
        for thread in _Running.now().threads_since(before):
            if _is_grpc_poller(thread):
                thread.join(THREAD_END_S)
    after = _Running.now()
    left = [
        "grpc's poller thread: a grpc.aio channel or server of the test is still referenced"
        if _is_grpc_poller(t)
        else f"thread {t.name!r}"
        for t in after.threads_since(before)
    ]
    children = [p for p in after.children - before.children if p.is_running()]
    left += [f"child process {p.pid} ({_command_line(p)})" for p in children]
    _kill(children)
    if left:
        pytest.fail("left running: " + "; ".join(left), pytrace=False)


def _kill(children: Iterable[psutil.Process]) -> None:
    """Kills what a test left running, so that it does not outlive the session."""
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()
            child.wait(THREAD_END_S)


def _command_line(process: psutil.Process) -> str:
    try:
        return str(" ".join(process.cmdline()) or process.name())
    except psutil.Error:
        return "its command line is gone"


@pytest.fixture(autouse=True)
def _no_task_left(request: pytest.FixtureRequest, _nothing_left_running: None) -> None:
    """In an async test, checks its event loop for tasks still pending once the test and
    its fixtures are done (see ``_tasks_of_the_test``). It depends on
    ``_nothing_left_running`` so that the threads are counted after the event loop has
    closed (and joined the threads of its default executor)."""
    if request.node.get_closest_marker("asyncio") is not None:
        request.getfixturevalue("_tasks_of_the_test")


@pytest.fixture
async def _tasks_of_the_test() -> AsyncIterator[None]:
    """Set up before the test's other fixtures and torn down after them, in the test's
    event loop before it closes (which would cancel what is left without a word)."""
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() - before if t is not current and not t.done()]
    for task in left:
        task.cancel()
    if left:
        pytest.fail(
            "tasks left pending: " + "; ".join(repr(t.get_coro()) for t in left), pytrace=False
        )
