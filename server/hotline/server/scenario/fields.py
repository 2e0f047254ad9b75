"""The fields of a scenario file: exercise times, stations, identifiers and tables, each
read with an error that names the field; and the line a field is on."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hotline.server.errors import ConfigurationError
from hotline.server.exercise import Hotline, UnknownKey, parse_hotline
from hotline.server.scenario.model import Seat, StationName, Window
from hotline.v1 import common_pb2

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|min|m|h)")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_offset(value: object) -> float:
    """Exercise seconds from a number or ``"90s"``, ``"2m"``, ``"1h30m"``, ``"T+5m"``;
    ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(value)
        return float(value)
    if not isinstance(value, str):
        raise ValueError(value)
    text = value.strip().removeprefix("T+").replace(" ", "")
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(value)
    return sum(float(n) * _UNIT[u] for n, u in parts)


def read_offset(value: object, where: str, *, required: bool = False) -> float:
    if value is None:
        if required:
            raise ConfigurationError(f'{where}: required (exercise time, e.g. "90s", "5m", "1h")')
        return 0.0
    try:
        return parse_offset(value)
    except ValueError:
        raise ConfigurationError(
            f'{where}: expected exercise time such as 0, "90s", "5m", "1h30m" or "T+5m", '
            f"got {value!r}"
        ) from None


def read_window(table: Mapping[str, Any], where: str) -> Window:
    start = read_offset(table.get("from", 0), f"{where}.from")
    end = read_offset(table.get("until"), f"{where}.until", required=True)
    if end <= start:
        raise ConfigurationError(f"{where}.until: must come after {where}.from")
    return Window(start, end)


def read_station(value: object, where: str, known: set[tuple[str, Hotline]] | None) -> StationName:
    if not isinstance(value, str) or "/" not in value:
        raise ConfigurationError(f'{where}: expected a station as "PARTY/HOTLINE", got {value!r}')
    party, _, line = value.partition("/")
    hotline = read_hotline(line, where)
    if known is not None and (party, hotline) not in known:
        raise ConfigurationError(f"{where}: the exercise has no station {value}")
    return StationName(party, hotline)


def read_hotline(value: object, where: str) -> common_pb2.Hotline.ValueType:
    try:
        return parse_hotline(str(value))
    except ValueError as error:
        raise ConfigurationError(f"{where}: {error}") from None


def read_seat(value: object, where: str) -> Seat:
    try:
        return Seat(str(value).lower())
    except ValueError:
        raise ConfigurationError(f"{where}: {value!r}: use primary or standby") from None


def read_id(table: Mapping[str, Any], where: str) -> str:
    value = table.get("id")
    if not isinstance(value, str) or not _ID.match(value):
        raise ConfigurationError(
            f"{where}.id: required, 1-32 letters, digits, '_', '.' or '-', got {value!r}"
        )
    return value


def check_unique(ids: list[str], where: str, key: str) -> None:
    seen: set[str] = set()
    for i, value in enumerate(ids):
        if value in seen:
            raise ConfigurationError(f"{where}[{i}].{key}: {value!r} is used twice")
        seen.add(value)


def read_number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{where}: expected a number, got {value!r}")
    return float(value)


def read_text(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{where}.{key}: required text")
    return value


def read_table(value: object, where: str) -> Mapping[str, Any]:
    if value is None:
        raise ConfigurationError(f"{where}: required table")
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{where}: expected a table, got {value!r}")
    return value


def read_tables(value: object, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ConfigurationError(f"{where}: expected an array of tables ([[{where}]])")
    return value


def read_list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigurationError(f"{where}: expected an array, got {value!r}")
    return value


def check_known(table: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in keys:
            raise UnknownKey(key, f"{where}." if where else "", keys)


_WHERE = re.compile(r"^(?P<table>[a-z_]+)(?:\[(?P<n>\d+)\])?(?:\.(?P<key>[a-z_]+))?")


def line_of(text: str, message: str) -> int:
    """The line an error message's field (``injects[2].at: ...``) is on: the key's line
    inside the table it names; 0 when it cannot be told."""
    match = _WHERE.match(message)
    if match is None:
        return 0
    lines = text.splitlines()
    table, key = match["table"], match["key"]
    start = 0
    if match["n"] is not None:
        header = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]")
        starts = [n for n, line in enumerate(lines) if header.match(line)]
        if int(match["n"]) >= len(starts):
            return 0
        start = starts[int(match["n"])]
    elif key is None:
        key = table
    else:
        header = re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\]")
        start = next((n for n, line in enumerate(lines) if header.match(line)), 0)
    if key is None:
        return start + 1
    setting = re.compile(rf"^\s*\[*\s*([\w.]*\.)?{re.escape(key)}\s*(=|\])")
    for number in range(start, len(lines)):
        if setting.match(lines[number]):
            return number + 1
    return start + 1
