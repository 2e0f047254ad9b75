"""Reading a scenario file (TOML; ``docs/scenarios.md`` is the reference).

Every mistake is a :class:`~hotline.server.errors.ConfigurationError` that names the
line (where it can be found), the field (``injects[2].at``) and what is wrong, so that
``hotline exercise check`` can be fixed from its output alone.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from hotline.server.deconfliction.geodesy import distance_m
from hotline.server.errors import ConfigurationError
from hotline.server.exercise import (
    Exercise,
    Hotline,
    UnknownKey,
    exercise_from_dict,
    hotline_name,
    load_exercise,
    parse_hotline,
    parse_priority,
)
from hotline.server.scenario.model import (
    MAX_TIME_SCALE,
    Answer,
    AnswerDelay,
    Inject,
    InjectKind,
    Objective,
    ObjectiveKind,
    Operator,
    PreloadedZone,
    Scenario,
    Seat,
    SimulatedStation,
    SimulatedUnit,
    StationName,
    Waypoint,
    Window,
)
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2, zones_pb2

_EXERCISE_KEYS = ("exercise", "parties", "stations", "policy", "mqtt")
_TOP_KEYS = ("scenario", "simulated", "zones", "units", "injects", "objectives", *_EXERCISE_KEYS)
_DOMAINS = {
    "AIR": common_pb2.DOMAIN_AIR,
    "GROUND": common_pb2.DOMAIN_GROUND,
    "SEA": common_pb2.DOMAIN_SEA,
}
#: The hotline of a unit's domain, where its own reports go by default.
_DOMAIN_HOTLINE = {
    common_pb2.DOMAIN_AIR: common_pb2.HOTLINE_AIR_OPERATIONS,
    common_pb2.DOMAIN_GROUND: common_pb2.HOTLINE_GROUND_COMMANDERS,
    common_pb2.DOMAIN_SEA: common_pb2.HOTLINE_GROUND_COMMANDERS,
}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|min|m|h)")
_ANSWERS = {
    "WILCO": acknowledgments_pb2.ACK_KIND_WILCO,
    "ROGER": acknowledgments_pb2.ACK_KIND_ROGER,
    "UNABLE": acknowledgments_pb2.ACK_KIND_UNABLE,
}
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
#: Bodies an inject may send (alerts are the server's and acknowledgments the
#: operators').
_SENDABLE = (
    "text", "position_report", "zone_proposal", "zone_update", "zone_withdrawal",
    "zone_decision", "activity_notice", "stop_request", "incident_report", "line_test",
)  # fmt: skip


def load_scenario(path: Path) -> Scenario:
    """Reads and checks the scenario file at ``path``; an exercise file it names is read
    relative to it."""
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"cannot read scenario file {path}: {error.strerror}") from None
    return parse_scenario(source, base=path.parent, name=str(path))


def parse_scenario(
    source: str, *, base: Path | None = None, name: str = "scenario", with_exercise: bool = True
) -> Scenario:
    """The scenario in ``source``. ``base`` is where a named exercise file is looked
    for; without ``with_exercise`` the exercise is not read (the evaluation of a
    recorded run needs only the injects and objectives)."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"{name}: not valid TOML: {error}") from None
    try:
        return _scenario(data, source, base, with_exercise)
    except ConfigurationError as error:
        line = _line_of(source, str(error))
        where = f"{name}:{line}" if line else name
        raise ConfigurationError(f"{where}: {error}") from None


def _scenario(
    data: Mapping[str, Any], source: str, base: Path | None, with_exercise: bool
) -> Scenario:
    _known(data, _TOP_KEYS, "")
    header = _table(data.get("scenario"), "scenario")
    _known(
        header,
        ("name", "exercise", "start", "time_scale", "seed", "duration", "played"),
        "scenario",
    )
    exercise = _exercise(data, header, base) if with_exercise else None
    scale = _number(header.get("time_scale", 1), "scenario.time_scale")
    if not 1 <= scale <= MAX_TIME_SCALE:
        raise ConfigurationError(
            f"scenario.time_scale: {scale:g} is out of range; exercise time runs 1 to "
            f"{MAX_TIME_SCALE:g} times faster than wall time (usually 1, 10 or 60)"
        )
    seed = header.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ConfigurationError(f"scenario.seed: expected a whole number, got {seed!r}")
    stations = {(s.party, s.hotline) for s in exercise.stations} if exercise else None
    played = frozenset(
        _station_name(v, f"scenario.played[{i}]", stations)
        for i, v in enumerate(_list(header.get("played", []), "scenario.played"))
    )
    simulated: dict[StationName, SimulatedStation] = {}
    for i, table in enumerate(_tables(data.get("simulated", []), "simulated")):
        station = _simulated(table, f"simulated[{i}]", stations)
        if station.station in played:
            raise ConfigurationError(
                f"simulated[{i}].station: {station.station} is also in scenario.played; "
                "a station is played by a person or simulated, not both"
            )
        if station.station in simulated:
            raise ConfigurationError(f"simulated[{i}].station: {station.station} is twice")
        simulated[station.station] = station
    if exercise is not None:
        for party, hotline in sorted(stations or ()):
            key = StationName(party, hotline)
            if key not in played and key not in simulated:
                simulated[key] = SimulatedStation(key)
    injects = tuple(
        _inject(t, f"injects[{i}]", stations)
        for i, t in enumerate(_tables(data.get("injects", []), "injects"))
    )
    _unique([i.inject_id for i in injects], "injects", "id")
    for i, inject in enumerate(injects):
        if inject.by is not None and exercise and not exercise.policy.parties_may_suspend:
            raise ConfigurationError(
                f"injects[{i}].by: the exercise does not let a party suspend or resume a "
                "hotline; set policy.parties_may_suspend = true, or leave 'by' out "
                "(exercise control)"
            )
    for i, inject in enumerate(injects):
        if inject.kind is InjectKind.MESSAGE and inject.station in played:
            raise ConfigurationError(
                f"injects[{i}].from: {inject.station} is played by a person; a scripted "
                "message comes from a simulated station"
            )
        if inject.kind is InjectKind.LINE_CUT and inject.station in played:
            raise ConfigurationError(
                f"injects[{i}].station: {inject.station} is played by a person; the runner "
                "cuts the line of a simulated station only"
            )
    duration = _offset(header.get("duration"), "scenario.duration", required=True)
    last = max((max(i.at + i.delivery_delay, i.until) for i in injects), default=0.0)
    if duration < last:
        raise ConfigurationError(
            f"scenario.duration: {duration:g} s ends before the last inject (at {last:g} s)"
        )
    zones = tuple(
        _zone(t, f"zones[{i}]", exercise, duration)
        for i, t in enumerate(_tables(data.get("zones", []), "zones"))
    )
    _unique([z.zone.zone_id for z in zones], "zones", "zone.zone_id")
    units = tuple(
        _unit(t, f"units[{i}]", exercise)
        for i, t in enumerate(_tables(data.get("units", []), "units"))
    )
    _unique([u.unit_id for u in units], "units", "id")
    objectives = tuple(
        _objective(t, f"objectives[{i}]", {i.inject_id for i in injects})
        for i, t in enumerate(_tables(data.get("objectives", []), "objectives"))
    )
    _unique([o.objective_id for o in objectives], "objectives", "id")
    return Scenario(
        name=_text(header, "name", "scenario"),
        exercise=exercise,
        time_scale=scale,
        seed=seed,
        duration=duration,
        start_label=str(header.get("start", "")),
        played=played,
        simulated=simulated,
        injects=tuple(sorted(injects, key=lambda i: i.at)),
        objectives=objectives,
        source=source,
        zones=zones,
        units=units,
    )


def _exercise(data: Mapping[str, Any], header: Mapping[str, Any], base: Path | None) -> Exercise:
    inline = {k: data[k] for k in _EXERCISE_KEYS if k in data}
    named = header.get("exercise")
    if named is not None and inline:
        raise ConfigurationError(
            "scenario.exercise: give the exercise file's name or the exercise inline "
            f"({', '.join(inline)}), not both"
        )
    if named is None:
        if not inline:
            raise ConfigurationError(
                "scenario.exercise: required: the exercise file's name, or the exercise "
                "inline ([exercise], [[parties]], [[stations]], [policy])"
            )
        return exercise_from_dict(inline)
    if not isinstance(named, str) or not named:
        raise ConfigurationError(f"scenario.exercise: expected a file name, got {named!r}")
    path = Path(named)
    if not path.is_absolute() and base is not None:
        path = base / path
    return load_exercise(path)


def _simulated(
    table: Mapping[str, Any], where: str, stations: set[tuple[str, Hotline]] | None
) -> SimulatedStation:
    _known(table, ("station", "primary", "standby", "absent", "language"), where)
    primary = _operator(table.get("primary", {}), f"{where}.primary")
    standby = _operator(table.get("standby", {}), f"{where}.standby")
    for i, window in enumerate(_tables(table.get("absent", []), f"{where}.absent")):
        _known(window, ("seat", "from", "until"), f"{where}.absent[{i}]")
        span = _window(window, f"{where}.absent[{i}]")
        if _seat(window.get("seat", "primary"), f"{where}.absent[{i}].seat") is Seat.PRIMARY:
            primary = Operator(primary.delay, primary.probability, primary.answers,
                               (*primary.absent, span))  # fmt: skip
        else:
            standby = Operator(standby.delay, standby.probability, standby.answers,
                               (*standby.absent, span))  # fmt: skip
    return SimulatedStation(
        station=_station_name(table.get("station"), f"{where}.station", stations),
        primary=primary,
        standby=standby,
        language=str(table.get("language", "en")),
    )


def _operator(value: object, where: str) -> Operator:
    table = _table(value, where)
    _known(table, ("delay", "answer_probability", "answer"), where)
    probability = _number(table.get("answer_probability", 1.0), f"{where}.answer_probability")
    if not 0 <= probability <= 1:
        raise ConfigurationError(
            f"{where}.answer_probability: {probability:g} is not a probability (0 to 1)"
        )
    answer = table.get("answer", "WILCO")
    if isinstance(answer, str):
        answers = {"default": _answer(answer, f"{where}.answer")}
    else:
        answers = {
            kind: _answer(text, f"{where}.answer.{kind}")
            for kind, text in _table(answer, f"{where}.answer").items()
        }
        for kind in answers:
            if kind != "default" and kind not in _SENDABLE:
                raise ConfigurationError(
                    f"{where}.answer.{kind}: not a message kind; use default or one of "
                    + ", ".join(_SENDABLE)
                )
        answers.setdefault("default", _answer("WILCO", where))
    return Operator(_delay(table.get("delay", "30s"), f"{where}.delay"), probability, answers)


def _answer(text: object, where: str) -> Answer:
    if not isinstance(text, str):
        raise ConfigurationError(f'{where}: expected "WILCO", "ROGER" or "UNABLE: reason"')
    word, _, reason = text.partition(":")
    kind = _ANSWERS.get(word.strip().upper())
    if kind is None:
        raise ConfigurationError(
            f'{where}: {text!r} is not an answer; use "WILCO", "ROGER" or "UNABLE: reason"'
        )
    if kind == acknowledgments_pb2.ACK_KIND_UNABLE and not reason.strip():
        raise ConfigurationError(f'{where}: UNABLE needs its reason ("UNABLE: no aircraft")')
    return Answer(kind, reason.strip())


def _delay(value: object, where: str) -> AnswerDelay:
    if not isinstance(value, Mapping):
        return AnswerDelay(fixed=_offset(value, where, required=True))
    _known(value, ("uniform", "exponential_mean"), where)
    if "uniform" in value:
        bounds = _list(value["uniform"], f"{where}.uniform")
        if len(bounds) != 2:
            raise ConfigurationError(f'{where}.uniform: expected [low, high], e.g. ["10s", "1m"]')
        low = _offset(bounds[0], f"{where}.uniform[0]", required=True)
        high = _offset(bounds[1], f"{where}.uniform[1]", required=True)
        if high < low:
            raise ConfigurationError(f"{where}.uniform: the high bound is below the low one")
        return AnswerDelay(low=low, high=high)
    if "exponential_mean" in value:
        mean = _offset(value["exponential_mean"], f"{where}.exponential_mean", required=True)
        if mean <= 0:
            raise ConfigurationError(f"{where}.exponential_mean: must be more than 0")
        return AnswerDelay(mean=mean)
    raise ConfigurationError(f'{where}: give "30s", {{ uniform = [low, high] }} or '
                             "{ exponential_mean = ... }")  # fmt: skip


def _inject(
    table: Mapping[str, Any], where: str, stations: set[tuple[str, Hotline]] | None
) -> Inject:
    _known(
        table,
        ("id", "at", "kind", "description", "from", "station", "priority", "message",
         "window_opens", "window_lasts", "location_off_km", "off_bearing_deg", "seat",
         "delivery_delay",
         "until", "hotline", "reason", "by", "text", "bookmark"),
        where,
    )  # fmt: skip
    inject_id = _identifier(table, where)
    at = _offset(table.get("at"), f"{where}.at", required=True)
    kind_text = table.get("kind", "message")
    try:
        kind = InjectKind(kind_text)
    except ValueError:
        raise ConfigurationError(
            f"{where}.kind: {kind_text!r} is not an inject kind; use one of "
            + ", ".join(k.value for k in InjectKind)
        ) from None
    base = Inject(inject_id, at, kind, description=str(table.get("description", "")))
    if kind is InjectKind.MESSAGE:
        return _message_inject(table, where, stations, base)
    if kind is InjectKind.UNAVAILABLE:
        until = _offset(table.get("until"), f"{where}.until", required=True)
        if until <= at:
            raise ConfigurationError(f"{where}.until: must come after {where}.at")
        return Inject(
            inject_id, at, kind, base.description,
            station=_station_name(table.get("station"), f"{where}.station", stations),
            seat=_seat(table.get("seat", "primary"), f"{where}.seat"),
            until=until,
        )  # fmt: skip
    if kind is InjectKind.LINE_CUT:
        until = _offset(table.get("until"), f"{where}.until", required=True)
        if until <= at:
            raise ConfigurationError(f"{where}.until: must come after {where}.at")
        if ("station" in table) == ("hotline" in table):
            raise ConfigurationError(
                f"{where}.station: give the station whose line is cut, or the hotline "
                "(every simulated station on it), not both"
            )
        if "station" in table:
            station = _station_name(table["station"], f"{where}.station", stations)
            return Inject(inject_id, at, kind, base.description, station=station, until=until)
        return Inject(
            inject_id, at, kind, base.description, until=until,
            hotline=_hotline(table["hotline"], f"{where}.hotline"),
        )  # fmt: skip
    if kind in (InjectKind.SUSPEND, InjectKind.RESUME):
        hotline = _hotline(table.get("hotline"), f"{where}.hotline")
        by = None
        if "by" in table:
            by = _station_name(table["by"], f"{where}.by", stations)
            if by.hotline != hotline:
                raise ConfigurationError(
                    f"{where}.by: {by} is not on {where}.hotline; a party suspends or "
                    "resumes its own station's hotline"
                )
        return Inject(
            inject_id, at, kind, base.description,
            hotline=hotline, reason=str(table.get("reason", "")), by=by,
        )  # fmt: skip
    text = str(table.get("text", base.description))
    if not text and not table.get("bookmark"):
        raise ConfigurationError(f"{where}.text: a note needs text or a bookmark")
    return Inject(
        inject_id, at, kind, base.description, text=text,
        bookmark=str(table.get("bookmark", "")),
        hotline=_hotline(table["hotline"], f"{where}.hotline")
        if "hotline" in table
        else common_pb2.HOTLINE_UNSPECIFIED,
    )  # fmt: skip


def _message_inject(
    table: Mapping[str, Any], where: str, stations: set[tuple[str, Hotline]] | None, base: Inject
) -> Inject:
    station = _station_name(table.get("from"), f"{where}.from", stations)
    body = _table(table.get("message"), f"{where}.message")
    if len(body) != 1 or next(iter(body)) not in _SENDABLE:
        raise ConfigurationError(
            f"{where}.message: expected one table named after the message kind ("
            + ", ".join(_SENDABLE)
            + ")"
        )
    envelope = envelope_pb2.Envelope()
    try:
        json_format.ParseDict(dict(body), envelope)
    except json_format.ParseError as error:
        raise ConfigurationError(f"{where}.message: {error}") from None
    kind = next(iter(body))
    try:
        envelope.priority = parse_priority(str(table.get("priority", "ROUTINE")))
    except ValueError as error:
        raise ConfigurationError(f"{where}.priority: {error}") from None
    if kind == "stop_request":
        envelope.priority = common_pb2.PRIORITY_FLASH
    opens = _offset(table.get("window_opens", 0), f"{where}.window_opens")
    lasts = _offset(table.get("window_lasts", 0), f"{where}.window_lasts")
    if kind == "activity_notice" and lasts <= 0:
        raise ConfigurationError(
            f"{where}.window_lasts: an activity notice needs its window's length "
            '(window_opens after the inject, e.g. "10m"; window_lasts, e.g. "30m")'
        )
    off_km = _number(table.get("location_off_km", 0), f"{where}.location_off_km")
    if off_km < 0:
        raise ConfigurationError(f"{where}.location_off_km: must be 0 or more")
    return Inject(
        base.inject_id, base.at, base.kind, base.description,
        station=station, envelope=envelope, window_opens=opens, window_lasts=lasts,
        delivery_delay=_offset(table.get("delivery_delay", 0), f"{where}.delivery_delay"),
        location_off_m=off_km * 1000.0,
        off_bearing_deg=_number(table.get("off_bearing_deg", 90), f"{where}.off_bearing_deg"),
    )  # fmt: skip


def _zone(
    table: Mapping[str, Any], where: str, exercise: Exercise | None, duration: float
) -> PreloadedZone:
    _known(table, ("owner", "accepted_by", "effective_from", "effective_until", "zone"), where)
    stations = {(s.party, s.hotline) for s in exercise.stations} if exercise else None
    owner = _station_name(table.get("owner"), f"{where}.owner", stations)
    if "accepted_by" in table:
        accepted_by = tuple(
            _station_name(v, f"{where}.accepted_by[{i}]", stations)
            for i, v in enumerate(_list(table["accepted_by"], f"{where}.accepted_by"))
        )
    else:
        accepted_by = tuple(
            StationName(party, hotline)
            for party, hotline in sorted(stations or ())
            if hotline == owner.hotline and party != owner.party
        )
    for i, station in enumerate(accepted_by):
        if station.party == owner.party or station.hotline != owner.hotline:
            raise ConfigurationError(
                f"{where}.accepted_by[{i}]: {station} cannot accept {owner}'s zone; another "
                f"party's station on {hotline_name(owner.hotline)} can"
            )
    zone = zones_pb2.Zone()
    try:
        json_format.ParseDict(dict(_table(table.get("zone"), f"{where}.zone")), zone)
    except json_format.ParseError as error:
        raise ConfigurationError(f"{where}.zone: {error}") from None
    if not zone.zone_id:
        raise ConfigurationError(f"{where}.zone.zone_id: required")
    start = _offset(table.get("effective_from", 0), f"{where}.effective_from")
    end = _offset(table.get("effective_until", duration), f"{where}.effective_until")
    if end <= start:
        raise ConfigurationError(f"{where}.effective_until: must come after effective_from")
    return PreloadedZone(zone, owner, accepted_by, start, end)


def _unit(table: Mapping[str, Any], where: str, exercise: Exercise | None) -> SimulatedUnit:
    _known(
        table,
        ("id", "callsign", "party", "domain", "reported_by", "report_every", "speed_mps",
         "route", "platform_type"),
        where,
    )  # fmt: skip
    unit_id = _identifier(table, where)
    party = _text(table, "party", where)
    if exercise is not None and not exercise.has_party(party):
        raise ConfigurationError(f"{where}.party: the exercise has no party {party!r}")
    domain_text = str(table.get("domain", "GROUND")).upper().removeprefix("DOMAIN_")
    if domain_text not in _DOMAINS:
        raise ConfigurationError(f"{where}.domain: {domain_text!r}: use AIR, GROUND or SEA")
    domain = _DOMAINS[domain_text]
    stations = {(s.party, s.hotline) for s in exercise.stations} if exercise else None
    if "reported_by" in table:
        reporter = _station_name(table["reported_by"], f"{where}.reported_by", stations)
    else:
        reporter = StationName(party, _DOMAIN_HOTLINE[domain])
        if stations is not None and (reporter.party, reporter.hotline) not in stations:
            raise ConfigurationError(
                f"{where}.reported_by: required: {party} has no station {reporter}"
            )
    every = _offset(table.get("report_every", "12s"), f"{where}.report_every", required=True)
    if every <= 0:
        raise ConfigurationError(f"{where}.report_every: must be more than 0")
    speed = _number(table.get("speed_mps", 0), f"{where}.speed_mps")
    route = _route(table.get("route"), f"{where}.route", speed)
    return SimulatedUnit(
        unit_id=unit_id,
        callsign=str(table.get("callsign", unit_id)),
        party=party,
        domain=domain,
        reported_by=reporter,
        report_every=every,
        route=route,
        platform_type=str(table.get("platform_type", "")),
    )


def _route(value: object, where: str, speed: float) -> tuple[Waypoint, ...]:
    points = _tables(value, where)
    if not points:
        raise ConfigurationError(f"{where}: at least one waypoint")
    route: list[Waypoint] = []
    for i, point in enumerate(points):
        here = f"{where}[{i}]"
        _known(point, ("at", "latitude", "longitude", "altitude_m"), here)
        lat = _number(point.get("latitude"), f"{here}.latitude")
        lon = _number(point.get("longitude"), f"{here}.longitude")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ConfigurationError(f"{here}: ({lat}, {lon}) is not a latitude and longitude")
        altitude = _number(point.get("altitude_m", 0), f"{here}.altitude_m")
        if "at" in point:
            at = _offset(point["at"], f"{here}.at")
        elif not route:
            at = 0.0
        elif speed > 0:
            last = route[-1]
            at = last.at + distance_m(last.latitude, last.longitude, lat, lon) / speed
        else:
            raise ConfigurationError(f"{here}.at: required, or give the unit's speed_mps")
        if route and at <= route[-1].at:
            raise ConfigurationError(f"{here}.at: must come after the waypoint before it")
        route.append(Waypoint(at, lat, lon, altitude))
    return tuple(route)


def _objective(table: Mapping[str, Any], where: str, injects: set[str]) -> Objective:
    _known(
        table,
        ("id", "kind", "description", "party", "inject", "within", "hotline", "message"),
        where,
    )
    kind_text = table.get("kind")
    try:
        kind = ObjectiveKind(kind_text)
    except ValueError:
        raise ConfigurationError(
            f"{where}.kind: {kind_text!r} is not a criterion; use one of "
            + ", ".join(k.value for k in ObjectiveKind)
        ) from None
    inject = str(table.get("inject", ""))
    if inject and inject not in injects:
        raise ConfigurationError(f"{where}.inject: no inject has the id {inject!r}")
    needs_inject = kind in (ObjectiveKind.ANSWERED_WITHIN, ObjectiveKind.RESUMED_WITHIN)
    if needs_inject and not inject:
        raise ConfigurationError(f"{where}.inject: required for {kind.value}")
    needs_within = kind is not ObjectiveKind.NO_NOTICE_CONFLICT
    within = _offset(table.get("within"), f"{where}.within", required=needs_within)
    party = str(table.get("party", ""))
    if kind is not ObjectiveKind.RESUMED_WITHIN and not party:
        raise ConfigurationError(f"{where}.party: required for {kind.value}")
    message = str(table.get("message", ""))
    if kind is ObjectiveKind.SENDS_WITHIN and message not in _SENDABLE:
        raise ConfigurationError(
            f"{where}.message: the kind of message expected, one of " + ", ".join(_SENDABLE)
        )
    return Objective(
        objective_id=_identifier(table, where),
        kind=kind,
        description=str(table.get("description", "")),
        party=party,
        inject=inject,
        within=within,
        hotline=_hotline(table["hotline"], f"{where}.hotline")
        if "hotline" in table
        else common_pb2.HOTLINE_UNSPECIFIED,
        message=message,
    )


# ---------------------------------------------------------------- small parsers


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


def _offset(value: object, where: str, *, required: bool = False) -> float:
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


def _window(table: Mapping[str, Any], where: str) -> Window:
    start = _offset(table.get("from", 0), f"{where}.from")
    end = _offset(table.get("until"), f"{where}.until", required=True)
    if end <= start:
        raise ConfigurationError(f"{where}.until: must come after {where}.from")
    return Window(start, end)


def _station_name(value: object, where: str, known: set[tuple[str, Hotline]] | None) -> StationName:
    if not isinstance(value, str) or "/" not in value:
        raise ConfigurationError(f'{where}: expected a station as "PARTY/HOTLINE", got {value!r}')
    party, _, line = value.partition("/")
    hotline = _hotline(line, where)
    if known is not None and (party, hotline) not in known:
        raise ConfigurationError(f"{where}: the exercise has no station {value}")
    return StationName(party, hotline)


def _hotline(value: object, where: str) -> common_pb2.Hotline.ValueType:
    try:
        return parse_hotline(str(value))
    except ValueError as error:
        raise ConfigurationError(f"{where}: {error}") from None


def _seat(value: object, where: str) -> Seat:
    try:
        return Seat(str(value).lower())
    except ValueError:
        raise ConfigurationError(f"{where}: {value!r}: use primary or standby") from None


def _identifier(table: Mapping[str, Any], where: str) -> str:
    value = table.get("id")
    if not isinstance(value, str) or not _ID.match(value):
        raise ConfigurationError(
            f"{where}.id: required, 1-32 letters, digits, '_', '.' or '-', got {value!r}"
        )
    return value


def _unique(ids: list[str], where: str, key: str) -> None:
    seen: set[str] = set()
    for i, value in enumerate(ids):
        if value in seen:
            raise ConfigurationError(f"{where}[{i}].{key}: {value!r} is used twice")
        seen.add(value)


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{where}: expected a number, got {value!r}")
    return float(value)


def _text(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{where}.{key}: required text")
    return value


def _table(value: object, where: str) -> Mapping[str, Any]:
    if value is None:
        raise ConfigurationError(f"{where}: required table")
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{where}: expected a table, got {value!r}")
    return value


def _tables(value: object, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise ConfigurationError(f"{where}: expected an array of tables ([[{where}]])")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigurationError(f"{where}: expected an array, got {value!r}")
    return value


def _known(table: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in keys:
            raise UnknownKey(key, f"{where}." if where else "", keys)


_WHERE = re.compile(r"^(?P<table>[a-z_]+)(?:\[(?P<n>\d+)\])?(?:\.(?P<key>[a-z_]+))?")


def _line_of(text: str, message: str) -> int:
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
