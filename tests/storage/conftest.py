"""Every storage test runs against both backends: a SQLite file and a database on a
throwaway PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh log lives: a SQLite path or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "hotline.sqlite")
    url: str = request.getfixturevalue("postgres_url")
    return url
