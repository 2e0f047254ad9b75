"""The exercise: parties, stations and the policy, loaded from a TOML file.

With no file, :func:`default_exercise` gives two parties (BLUE, RED) with a station on
every hotline and the default deadlines of ``DOMAIN.md``.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

from hotline.contract import duration
from hotline.server.errors import ConfigurationError
from hotline.v1 import common_pb2, exercise_pb2

Hotline: TypeAlias = common_pb2.Hotline.ValueType
Priority: TypeAlias = common_pb2.Priority.ValueType

HOTLINES: tuple[Hotline, ...] = (
    common_pb2.HOTLINE_AIR_OPERATIONS,
    common_pb2.HOTLINE_GROUND_COMMANDERS,
    common_pb2.HOTLINE_GENERALS,
)
PRIORITIES: tuple[Priority, ...] = (
    common_pb2.PRIORITY_FLASH,
    common_pb2.PRIORITY_IMMEDIATE,
    common_pb2.PRIORITY_PRIORITY,
    common_pb2.PRIORITY_ROUTINE,
)
#: Party name used as the audience of alerts meant for exercise control only.
EXERCISE_CONTROL = "EXERCISE_CONTROL"
_PARTY_ID = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")


def hotline_name(hotline: Hotline) -> str:
    """``HOTLINE_AIR_OPERATIONS`` -> ``AIR_OPERATIONS``."""
    return common_pb2.Hotline.Name(hotline).removeprefix("HOTLINE_")


def priority_name(priority: Priority) -> str:
    return common_pb2.Priority.Name(priority).removeprefix("PRIORITY_")


def parse_hotline(text: str) -> Hotline:
    """Accepts ``AIR_OPERATIONS``, ``air-operations`` or ``HOTLINE_AIR_OPERATIONS``."""
    name = text.strip().upper().replace("-", "_")
    try:
        return common_pb2.Hotline.Value(name if name.startswith("HOTLINE_") else f"HOTLINE_{name}")
    except ValueError:
        choices = ", ".join(hotline_name(h) for h in HOTLINES)
        raise ValueError(f"unknown hotline {text!r}; choose one of {choices}") from None


def parse_priority(text: str) -> Priority:
    name = text.strip().upper()
    try:
        return common_pb2.Priority.Value(
            name if name.startswith("PRIORITY_") else f"PRIORITY_{name}"
        )
    except ValueError:
        choices = ", ".join(priority_name(p) for p in PRIORITIES)
        raise ValueError(f"unknown priority {text!r}; choose one of {choices}") from None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: object, where: str) -> float:
    """Seconds from a number or a string such as ``"250ms"``, ``"5s"``, ``"15m"``, ``"1h"``."""
    if isinstance(value, bool):
        raise ConfigurationError(f"{where}: expected a duration, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ConfigurationError(
            f'{where}: expected a duration such as 30, "250ms", "5s", "15m" or "1h", got {value!r}'
        )
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigurationError(f"{where}: a duration must be positive, got {value!r}")
    return seconds


@dataclass(frozen=True)
class Deadlines:
    """How long a station has for the RECEIPT and for the operator's response."""

    receipt: float
    response: float


DEFAULT_DEADLINES: Mapping[Priority, Deadlines] = {
    common_pb2.PRIORITY_FLASH: Deadlines(receipt=5, response=60),
    common_pb2.PRIORITY_IMMEDIATE: Deadlines(receipt=10, response=5 * 60),
    common_pb2.PRIORITY_PRIORITY: Deadlines(receipt=30, response=15 * 60),
    common_pb2.PRIORITY_ROUTINE: Deadlines(receipt=60, response=60 * 60),
}


@dataclass(frozen=True)
class Separation:
    """Separation minima and look-ahead used by the deconfliction checks."""

    air_horizontal_m: float = 5556.0  # 3 NM
    air_vertical_m: float = 300.0
    ground_m: float = 1000.0
    look_ahead_s: float = 300.0
    stale_after_s: float = 60.0
    #: An activity notice whose area is farther than this from every unit of the
    #: notifying party's it concerns is flagged to exercise control (NOTICE_MISMATCH).
    notice_mismatch_m: float = 10_000.0


@dataclass(frozen=True)
class Policy:
    deadlines: Mapping[Priority, Deadlines] = field(default_factory=lambda: DEFAULT_DEADLINES)
    line_test_interval: float = 3600.0
    line_test_receipt: float = 30.0
    #: A party's station may suspend and resume its own hotline.
    parties_may_suspend: bool = False
    separation: Separation = Separation()

    def deadlines_for(self, priority: Priority) -> Deadlines:
        return self.deadlines[priority]


@dataclass(frozen=True)
class Party:
    party_id: str
    name: str


@dataclass(frozen=True)
class Station:
    party: str
    hotline: Hotline
    name: str
    primary_operator: str
    standby_operator: str

    @property
    def key(self) -> tuple[str, Hotline]:
        return (self.party, self.hotline)

    @property
    def label(self) -> str:
        return f"{self.party}/{hotline_name(self.hotline)}"


@dataclass(frozen=True)
class Broker:
    """The MQTT broker the exercise file names (``[mqtt]``); the server's own setting
    (``--mqtt`` / ``HOTLINE_MQTT``) takes precedence."""

    url: str
    payload_format: str = "json"


@dataclass(frozen=True)
class Exercise:
    exercise_id: str
    name: str
    parties: tuple[Party, ...]
    stations: tuple[Station, ...]
    policy: Policy = Policy()
    broker: Broker | None = None

    def __post_init__(self) -> None:
        self._check()

    def _check(self) -> None:
        if len(self.parties) < 2:
            raise ConfigurationError("an exercise needs at least two parties")
        ids = [p.party_id for p in self.parties]
        for party_id in ids:
            if not _PARTY_ID.match(party_id) or party_id == EXERCISE_CONTROL:
                raise ConfigurationError(
                    f"party id {party_id!r}: use 1-32 capital letters, digits or '_', "
                    f"starting with a letter (and not {EXERCISE_CONTROL})"
                )
        if len(set(ids)) != len(ids):
            raise ConfigurationError(f"party ids must be unique, got {ids}")
        keys = [s.key for s in self.stations]
        if len(set(keys)) != len(keys):
            raise ConfigurationError("each party may have only one station per hotline")
        for station in self.stations:
            if station.party not in ids:
                raise ConfigurationError(
                    f"station {station.name!r}: unknown party {station.party!r}; "
                    f"parties are {', '.join(ids)}"
                )

    def station(self, party: str, hotline: Hotline) -> Station | None:
        for station in self.stations:
            if station.party == party and station.hotline == hotline:
                return station
        return None

    def stations_on(self, hotline: Hotline) -> tuple[Station, ...]:
        return tuple(s for s in self.stations if s.hotline == hotline)

    def has_party(self, party: str) -> bool:
        return any(p.party_id == party for p in self.parties)

    def to_proto(self) -> exercise_pb2.Exercise:
        policy = exercise_pb2.Policy(
            deadlines=[
                exercise_pb2.DeadlinePolicy(
                    priority=priority,
                    receipt=duration(d.receipt),
                    response=duration(d.response),
                )
                for priority, d in sorted(self.policy.deadlines.items())
            ],
            line_test_interval=duration(self.policy.line_test_interval),
            line_test_receipt=duration(self.policy.line_test_receipt),
            parties_may_suspend=self.policy.parties_may_suspend,
            separation=exercise_pb2.SeparationMinima(
                air_horizontal_m=self.policy.separation.air_horizontal_m,
                air_vertical_m=self.policy.separation.air_vertical_m,
                ground_m=self.policy.separation.ground_m,
                look_ahead=duration(self.policy.separation.look_ahead_s),
                stale_after=duration(self.policy.separation.stale_after_s),
                notice_mismatch_m=self.policy.separation.notice_mismatch_m,
            ),
        )
        return exercise_pb2.Exercise(
            exercise_id=self.exercise_id,
            name=self.name,
            parties=[exercise_pb2.Party(party_id=p.party_id, name=p.name) for p in self.parties],
            stations=[station_proto(s) for s in self.stations],
            policy=policy,
        )


def station_proto(station: Station) -> exercise_pb2.Station:
    return exercise_pb2.Station(
        ref=common_pb2.StationRef(party=station.party, hotline=station.hotline),
        name=station.name,
        primary_operator=station.primary_operator,
        standby_operator=station.standby_operator,
    )


def _every_station(parties: Iterable[Party]) -> tuple[Station, ...]:
    return tuple(
        Station(
            party=p.party_id,
            hotline=h,
            name=f"{p.party_id} {hotline_name(h).replace('_', ' ').lower()}",
            primary_operator="primary duty officer",
            standby_operator="standby duty officer",
        )
        for p in parties
        for h in HOTLINES
    )


def default_exercise(policy: Policy | None = None) -> Exercise:
    """Two parties, BLUE and RED, each with a station on all three hotlines."""
    parties = (Party("BLUE", "Coalition"), Party("RED", "Russian Group of Forces"))
    return Exercise(
        exercise_id="default",
        name="Default two-party exercise",
        parties=parties,
        stations=_every_station(parties),
        policy=policy or Policy(),
    )


def load_exercise(path: Path) -> Exercise:
    """Read an exercise file; every mistake is a :class:`ConfigurationError` naming the key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigurationError(f"cannot read exercise file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{path}: not valid TOML: {error}") from None
    try:
        return exercise_from_dict(data)
    except UnknownKey as error:
        line = _line_of(path.read_text(encoding="utf-8"), error.key)
        raise ConfigurationError(
            f"{path}:{line}: {error}" if line else f"{path}: {error}"
        ) from None
    except ConfigurationError as error:
        raise ConfigurationError(f"{path}: {error}") from None


class UnknownKey(ConfigurationError):
    """A key the exercise file does not have: a typo, which would otherwise go unseen."""

    def __init__(self, key: str, where: str, known: Iterable[str]) -> None:
        close = difflib.get_close_matches(key, list(known), n=1)
        guess = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(known)}"
        super().__init__(f"{where}{key}: unknown key{guess}")
        self.key = key


def _line_of(text: str, key: str) -> int:
    """The number of the first line setting or opening ``key``; 0 if none does."""
    pattern = re.compile(rf"^\s*(\[+\s*)?([\w.\"]*\.)?\"?{re.escape(key)}\"?\s*(=|\])")
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            return number
    return 0


def _known(table: Mapping[str, Any], keys: Iterable[str], where: str) -> None:
    """Refuses a key of ``table`` (at ``where``) that is not one of ``keys``."""
    known = tuple(keys)
    for key in table:
        if key not in known:
            raise UnknownKey(key, f"{where}." if where else "", known)


def exercise_from_dict(data: Mapping[str, Any]) -> Exercise:
    _known(data, ("exercise", "parties", "stations", "policy", "mqtt"), "")
    header = _table(data.get("exercise", {}), "exercise")
    _known(header, ("id", "name"), "exercise")
    for i, p in enumerate(_tables(data.get("parties", []), "parties")):
        _known(p, ("id", "name"), f"parties[{i}]")
    parties = tuple(
        Party(
            party_id=_text(p, "id", f"parties[{i}]"),
            name=str(p.get("name", p.get("id", ""))),
        )
        for i, p in enumerate(_tables(data.get("parties", []), "parties"))
    )
    if "stations" in data:
        stations = tuple(
            _station(s, f"stations[{i}]")
            for i, s in enumerate(_tables(data["stations"], "stations"))
        )
    else:
        stations = _every_station(parties)
    return Exercise(
        exercise_id=str(header.get("id", "exercise")),
        name=str(header.get("name", header.get("id", "Exercise"))),
        parties=parties,
        stations=stations,
        policy=_policy(_table(data.get("policy", {}), "policy")),
        broker=_broker(_table(data["mqtt"], "mqtt")) if "mqtt" in data else None,
    )


def _broker(table: Mapping[str, Any]) -> Broker:
    _known(table, ("url", "format"), "mqtt")
    return Broker(
        url=_text(table, "url", "mqtt"),
        payload_format=str(table.get("format", "json")),
    )


def _station(table: Mapping[str, Any], where: str) -> Station:
    _known(table, ("party", "hotline", "name", "primary", "standby"), where)
    try:
        hotline = parse_hotline(_text(table, "hotline", where))
    except ValueError as error:
        raise ConfigurationError(f"{where}.hotline: {error}") from None
    party = _text(table, "party", where)
    return Station(
        party=party,
        hotline=hotline,
        name=str(table.get("name", f"{party} {hotline_name(hotline)}")),
        primary_operator=str(table.get("primary", "primary duty officer")),
        standby_operator=str(table.get("standby", "standby duty officer")),
    )


def _policy(table: Mapping[str, Any]) -> Policy:
    _known(
        table,
        (
            "deadlines",
            "separation",
            "line_test_interval",
            "line_test_receipt",
            "parties_may_suspend",
        ),
        "policy",
    )
    may_suspend = table.get("parties_may_suspend", False)
    if not isinstance(may_suspend, bool):
        raise ConfigurationError(
            f"policy.parties_may_suspend: expected true or false, got {may_suspend!r}"
        )
    deadlines = dict(DEFAULT_DEADLINES)
    for name, value in _table(table.get("deadlines", {}), "policy.deadlines").items():
        where = f"policy.deadlines.{name}"
        try:
            priority = parse_priority(name)
        except ValueError as error:
            raise ConfigurationError(f"{where}: {error}") from None
        entry = _table(value, where)
        _known(entry, ("receipt", "response"), where)
        base = deadlines[priority]
        deadlines[priority] = Deadlines(
            receipt=parse_duration(entry.get("receipt", base.receipt), f"{where}.receipt"),
            response=parse_duration(entry.get("response", base.response), f"{where}.response"),
        )
    sep = _table(table.get("separation", {}), "policy.separation")
    _known(
        sep,
        (
            "air_horizontal_m",
            "air_vertical_m",
            "ground_m",
            "look_ahead",
            "stale_after",
            "notice_mismatch_m",
        ),
        "policy.separation",
    )
    base_sep = Separation()
    separation = Separation(
        air_horizontal_m=_positive(sep, "air_horizontal_m", base_sep.air_horizontal_m),
        air_vertical_m=_positive(sep, "air_vertical_m", base_sep.air_vertical_m),
        ground_m=_positive(sep, "ground_m", base_sep.ground_m),
        look_ahead_s=parse_duration(
            sep.get("look_ahead", base_sep.look_ahead_s), "policy.separation.look_ahead"
        ),
        stale_after_s=parse_duration(
            sep.get("stale_after", base_sep.stale_after_s), "policy.separation.stale_after"
        ),
        notice_mismatch_m=_positive(sep, "notice_mismatch_m", base_sep.notice_mismatch_m),
    )
    return Policy(
        deadlines=deadlines,
        line_test_interval=parse_duration(
            table.get("line_test_interval", 3600), "policy.line_test_interval"
        ),
        line_test_receipt=parse_duration(
            table.get("line_test_receipt", 30), "policy.line_test_receipt"
        ),
        separation=separation,
        parties_may_suspend=may_suspend,
    )


def _positive(table: Mapping[str, Any], key: str, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigurationError(f"policy.separation.{key}: expected a positive number")
    return float(value)


def _table(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ConfigurationError(f"{where}: expected a table")
    return value


def _tables(value: object, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigurationError(f"{where}: expected an array of tables ([[{where}]])")
    return value


def _text(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{where}.{key}: required text is missing")
    return value
