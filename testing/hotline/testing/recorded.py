"""Exercises recorded once through a real server, and a copy of the log for each test.

A test module that reads a recorded log names the scenario that records it: an async
function that runs a server on the data directory it is given and returns what the
tests need to know about what was sent. The session's :class:`Recordings` (the
``recordings`` fixture) runs each scenario once, the first time a test asks for it;
every test then gets its own copy of the log, with the server's verifier key beside it,
so that a test may tamper with its copy::

    @pytest.fixture
    def log(recordings: Recordings, tmp_path: Path) -> Path:
        return recordings.of(my_exercise).copy_log(tmp_path)
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

import pytest

T = TypeVar("T")

#: Records an exercise in the data directory it is given; returns what was sent.
Scenario = Callable[[Path], Awaitable[T]]

#: What ``hotline serve`` names its log and its verifier key in the data directory.
LOG = "hotline.sqlite"
VERIFIER_KEY = "signing.pub"


@dataclass(frozen=True)
class Recorded(Generic[T]):
    """A recorded exercise: the server's data directory and what the scenario returned."""

    data_dir: Path
    sent: T

    def copy_log(self, into: Path, name: str = "log.sqlite") -> Path:
        """A copy of the log in ``into``, with the verifier key beside it; its path."""
        shutil.copy(self.data_dir / LOG, into / name)
        shutil.copy(self.data_dir / VERIFIER_KEY, into / VERIFIER_KEY)
        return into / name


class Recordings:
    """The exercises recorded in this test session, each once."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp_path_factory = tmp_path_factory
        self._recorded: dict[Scenario[Any], Recorded[Any]] = {}

    def of(self, scenario: Scenario[T]) -> Recorded[T]:
        """The exercise ``scenario`` records, recorded now if it was not yet (in an event
        loop of its own: call it from a fixture that is not async)."""
        if scenario not in self._recorded:
            module = scenario.__module__.rpartition(".")[2]
            data_dir = self._tmp_path_factory.mktemp(f"{module}-{scenario.__name__.strip('_')}")
            sent = asyncio.run(_run(scenario, data_dir))
            self._recorded[scenario] = Recorded(data_dir, sent)
        return cast("Recorded[T]", self._recorded[scenario])


async def _run(scenario: Scenario[T], data_dir: Path) -> T:
    return await scenario(data_dir)
