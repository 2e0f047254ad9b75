"""The documentation stands on its own: its links lead to files of the repository, and
the exercise files it shows are ones the server accepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hotline.server.exercise import load_exercise

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
_TOML = re.compile(r"```toml\n(.*?)```", re.DOTALL)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_links_lead_to_files_of_the_repository(page: Path) -> None:
    text = page.read_text()
    assert "../shared" not in text
    assert "DOMAIN.md" not in text
    for target in _LINK.findall(text):
        if re.match(r"^[a-z]+:", target):
            continue
        resolved = (page.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{page.name}: {target} leaves the repository"
        assert resolved.exists(), f"{page.name}: {target} does not exist"


@pytest.mark.parametrize(
    "page", [ROOT / "README.md", ROOT / "docs" / "exercise-file.md"], ids=lambda p: p.name
)
def test_the_exercise_files_shown_are_accepted(page: Path, tmp_path: Path) -> None:
    examples = _TOML.findall(page.read_text())
    assert examples
    for number, example in enumerate(examples):
        path = tmp_path / f"example-{number}.toml"
        path.write_text(example)
        exercise = load_exercise(path)
        assert exercise.exercise_id == "deir-ezzor-drill"
