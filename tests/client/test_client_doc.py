"""``docs/client.md`` does what it says: its commands and its example, run as a reader
would against a real ``hotline serve``, print what the page shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.testing.harness import ServerProcess

DOC = Path(__file__).resolve().parents[2] / "docs" / "client.md"
HOTLINE = [sys.executable, "-m", "hotline.cli"]


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", DOC.read_text(), re.M | re.S)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServerProcess]:
    """``hotline serve`` on a fresh exercise, its data where the page's commands look
    for it (``./hotline-data``)."""
    server = ServerProcess(tmp_path / "hotline-data")
    server.start()
    yield server
    assert server.terminate() == 0


def test_the_example_session_prints_what_the_page_shows(
    served: ServerProcess, tmp_path: Path
) -> None:
    (commands,) = blocks("sh")
    (example,) = blocks("python")
    (printed,) = blocks("text")
    # The page's commands, each as typed (the ``hotline`` of this interpreter).
    written = []
    for line in commands.splitlines():
        words = line.split()
        if words[:2] == [".venv/bin/hotline", "token"]:
            subprocess.run(
                [*HOTLINE, *words[1:]], cwd=tmp_path, check=True, capture_output=True, timeout=60
            )
            written.append(words[words.index("-o") + 1])
    assert written == ["blue.token", "red.token"]
    assert "session.py" in commands
    (tmp_path / "session.py").write_text(example)

    run = subprocess.run(
        [sys.executable, "session.py"],
        check=False,
        cwd=tmp_path,
        env={**os.environ, "HOTLINE_ADDRESS": served.address},
        capture_output=True,
        text=True,
        timeout=90,
    )

    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == printed.splitlines()
