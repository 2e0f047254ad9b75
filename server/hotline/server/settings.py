"""The server's settings: one typed object from the environment and the command line.

Environment variables (each overridden by the matching ``hotline serve`` option):
``HOTLINE_LISTEN`` (address, default ``127.0.0.1:50051``), ``HOTLINE_DATA_DIR`` (default
``./hotline-data``), ``HOTLINE_DB`` (SQLite path or ``postgresql://`` URL; default
``<data dir>/hotline.sqlite``), ``HOTLINE_EXERCISE`` (exercise TOML file; default the
built-in two-party exercise).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from hotline.server.errors import ConfigurationError

DEFAULT_LISTEN = "127.0.0.1:50051"


@dataclass(frozen=True)
class Settings:
    listen: str = DEFAULT_LISTEN
    data_dir: Path = Path("hotline-data")
    database: str = ""
    exercise_file: Path | None = None
    #: fsync every commit (``synchronous=FULL``); off trades power-loss safety for speed.
    durable: bool = True

    @property
    def database_location(self) -> str:
        return self.database or str(self.data_dir / "hotline.sqlite")

    @property
    def token_secret_file(self) -> Path:
        return self.data_dir / "token.key"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        settings = cls()
        if "HOTLINE_LISTEN" in environ:
            settings = replace(settings, listen=environ["HOTLINE_LISTEN"])
        if "HOTLINE_DATA_DIR" in environ:
            settings = replace(settings, data_dir=Path(environ["HOTLINE_DATA_DIR"]))
        if "HOTLINE_DB" in environ:
            settings = replace(settings, database=environ["HOTLINE_DB"])
        if "HOTLINE_EXERCISE" in environ:
            settings = replace(settings, exercise_file=Path(environ["HOTLINE_EXERCISE"]))
        return settings.checked()

    def checked(self) -> Settings:
        host, _, port = self.listen.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ConfigurationError(
                f"listen address {self.listen!r}: expected HOST:PORT, e.g. {DEFAULT_LISTEN}"
            )
        if self.exercise_file is not None and not self.exercise_file.is_file():
            raise ConfigurationError(f"exercise file {self.exercise_file} does not exist")
        return self
