"""The exercise every export test reads: recorded once, copied for each test."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from exports.recording import Recording, record_exercise


@pytest.fixture(scope="session")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    return asyncio.run(record_exercise(tmp_path_factory.mktemp("exercise")))


@pytest.fixture
def log(recording: Recording, tmp_path: Path) -> Path:
    """A copy of the recorded log, with the server's verifier key beside it."""
    shutil.copy(recording.data_dir / "hotline.sqlite", tmp_path / "log.sqlite")
    shutil.copy(recording.data_dir / "signing.pub", tmp_path / "signing.pub")
    return tmp_path / "log.sqlite"
