"""Reading a scenario file (TOML; ``docs/scenarios.md`` is the reference).

Every mistake is a :class:`~hotline.server.errors.ConfigurationError` that names the
line (where it can be found), the field (``injects[2].at``) and what is wrong, so that
``hotline exercise check`` can be fixed from its output alone.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from hotline.server.errors import ConfigurationError
from hotline.server.exercise import (
    Exercise,
    Hotline,
    exercise_from_dict,
    load_exercise,
    parse_priority,
)
from hotline.server.scenario.fields import (
    check_known,
    check_unique,
    line_of,
    read_hotline,
    read_id,
    read_list,
    read_number,
    read_offset,
    read_seat,
    read_station,
    read_table,
    read_tables,
    read_text,
    read_window,
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
    Scenario,
    Seat,
    SimulatedStation,
    StationName,
)
from hotline.server.scenario.theatre import preloaded_zone, simulated_unit
from hotline.v1 import acknowledgments_pb2, common_pb2, envelope_pb2

_EXERCISE_KEYS = ("exercise", "parties", "stations", "policy", "mqtt")
_TOP_KEYS = ("scenario", "simulated", "zones", "units", "injects", "objectives", *_EXERCISE_KEYS)
_ANSWERS = {
    "WILCO": acknowledgments_pb2.ACK_KIND_WILCO,
    "ROGER": acknowledgments_pb2.ACK_KIND_ROGER,
    "UNABLE": acknowledgments_pb2.ACK_KIND_UNABLE,
}
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
        line = line_of(source, str(error))
        where = f"{name}:{line}" if line else name
        raise ConfigurationError(f"{where}: {error}") from None


def _scenario(
    data: Mapping[str, Any], source: str, base: Path | None, with_exercise: bool
) -> Scenario:
    check_known(data, _TOP_KEYS, "")
    header = read_table(data.get("scenario"), "scenario")
    check_known(
        header,
        ("name", "exercise", "start", "time_scale", "seed", "duration", "played"),
        "scenario",
    )
    exercise = _exercise(data, header, base) if with_exercise else None
    scale = read_number(header.get("time_scale", 1), "scenario.time_scale")
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
        read_station(v, f"scenario.played[{i}]", stations)
        for i, v in enumerate(read_list(header.get("played", []), "scenario.played"))
    )
    simulated: dict[StationName, SimulatedStation] = {}
    for i, table in enumerate(read_tables(data.get("simulated", []), "simulated")):
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
        for i, t in enumerate(read_tables(data.get("injects", []), "injects"))
    )
    check_unique([i.inject_id for i in injects], "injects", "id")
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
    duration = read_offset(header.get("duration"), "scenario.duration", required=True)
    last = max((max(i.at + i.delivery_delay, i.until) for i in injects), default=0.0)
    if duration < last:
        raise ConfigurationError(
            f"scenario.duration: {duration:g} s ends before the last inject (at {last:g} s)"
        )
    zones = tuple(
        preloaded_zone(t, f"zones[{i}]", exercise, duration)
        for i, t in enumerate(read_tables(data.get("zones", []), "zones"))
    )
    check_unique([z.zone.zone_id for z in zones], "zones", "zone.zone_id")
    units = tuple(
        simulated_unit(t, f"units[{i}]", exercise)
        for i, t in enumerate(read_tables(data.get("units", []), "units"))
    )
    check_unique([u.unit_id for u in units], "units", "id")
    objectives = tuple(
        _objective(t, f"objectives[{i}]", {i.inject_id for i in injects})
        for i, t in enumerate(read_tables(data.get("objectives", []), "objectives"))
    )
    check_unique([o.objective_id for o in objectives], "objectives", "id")
    return Scenario(
        name=read_text(header, "name", "scenario"),
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
    check_known(table, ("station", "primary", "standby", "absent", "language"), where)
    primary = _operator(table.get("primary", {}), f"{where}.primary")
    standby = _operator(table.get("standby", {}), f"{where}.standby")
    for i, window in enumerate(read_tables(table.get("absent", []), f"{where}.absent")):
        check_known(window, ("seat", "from", "until"), f"{where}.absent[{i}]")
        span = read_window(window, f"{where}.absent[{i}]")
        if read_seat(window.get("seat", "primary"), f"{where}.absent[{i}].seat") is Seat.PRIMARY:
            primary = Operator(primary.delay, primary.probability, primary.answers,
                               (*primary.absent, span))  # fmt: skip
        else:
            standby = Operator(standby.delay, standby.probability, standby.answers,
                               (*standby.absent, span))  # fmt: skip
    return SimulatedStation(
        station=read_station(table.get("station"), f"{where}.station", stations),
        primary=primary,
        standby=standby,
        language=str(table.get("language", "en")),
    )


def _operator(value: object, where: str) -> Operator:
    table = read_table(value, where)
    check_known(table, ("delay", "answer_probability", "answer"), where)
    probability = read_number(table.get("answer_probability", 1.0), f"{where}.answer_probability")
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
            for kind, text in read_table(answer, f"{where}.answer").items()
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
        return AnswerDelay(fixed=read_offset(value, where, required=True))
    check_known(value, ("uniform", "exponential_mean"), where)
    if "uniform" in value:
        bounds = read_list(value["uniform"], f"{where}.uniform")
        if len(bounds) != 2:
            raise ConfigurationError(f'{where}.uniform: expected [low, high], e.g. ["10s", "1m"]')
        low = read_offset(bounds[0], f"{where}.uniform[0]", required=True)
        high = read_offset(bounds[1], f"{where}.uniform[1]", required=True)
        if high < low:
            raise ConfigurationError(f"{where}.uniform: the high bound is below the low one")
        return AnswerDelay(low=low, high=high)
    if "exponential_mean" in value:
        mean = read_offset(value["exponential_mean"], f"{where}.exponential_mean", required=True)
        if mean <= 0:
            raise ConfigurationError(f"{where}.exponential_mean: must be more than 0")
        return AnswerDelay(mean=mean)
    raise ConfigurationError(f'{where}: give "30s", {{ uniform = [low, high] }} or '
                             "{ exponential_mean = ... }")  # fmt: skip


def _inject(
    table: Mapping[str, Any], where: str, stations: set[tuple[str, Hotline]] | None
) -> Inject:
    check_known(
        table,
        ("id", "at", "kind", "description", "from", "station", "priority", "message",
         "window_opens", "window_lasts", "location_off_km", "off_bearing_deg", "seat",
         "delivery_delay",
         "until", "hotline", "reason", "by", "text", "bookmark"),
        where,
    )  # fmt: skip
    inject_id = read_id(table, where)
    at = read_offset(table.get("at"), f"{where}.at", required=True)
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
        until = read_offset(table.get("until"), f"{where}.until", required=True)
        if until <= at:
            raise ConfigurationError(f"{where}.until: must come after {where}.at")
        return Inject(
            inject_id, at, kind, base.description,
            station=read_station(table.get("station"), f"{where}.station", stations),
            seat=read_seat(table.get("seat", "primary"), f"{where}.seat"),
            until=until,
        )  # fmt: skip
    if kind is InjectKind.LINE_CUT:
        until = read_offset(table.get("until"), f"{where}.until", required=True)
        if until <= at:
            raise ConfigurationError(f"{where}.until: must come after {where}.at")
        if ("station" in table) == ("hotline" in table):
            raise ConfigurationError(
                f"{where}.station: give the station whose line is cut, or the hotline "
                "(every simulated station on it), not both"
            )
        if "station" in table:
            station = read_station(table["station"], f"{where}.station", stations)
            return Inject(inject_id, at, kind, base.description, station=station, until=until)
        return Inject(
            inject_id, at, kind, base.description, until=until,
            hotline=read_hotline(table["hotline"], f"{where}.hotline"),
        )  # fmt: skip
    if kind in (InjectKind.SUSPEND, InjectKind.RESUME):
        hotline = read_hotline(table.get("hotline"), f"{where}.hotline")
        by = None
        if "by" in table:
            by = read_station(table["by"], f"{where}.by", stations)
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
        hotline=read_hotline(table["hotline"], f"{where}.hotline")
        if "hotline" in table
        else common_pb2.HOTLINE_UNSPECIFIED,
    )  # fmt: skip


def _message_inject(
    table: Mapping[str, Any], where: str, stations: set[tuple[str, Hotline]] | None, base: Inject
) -> Inject:
    station = read_station(table.get("from"), f"{where}.from", stations)
    body = read_table(table.get("message"), f"{where}.message")
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
    opens = read_offset(table.get("window_opens", 0), f"{where}.window_opens")
    lasts = read_offset(table.get("window_lasts", 0), f"{where}.window_lasts")
    if kind == "activity_notice" and lasts <= 0:
        raise ConfigurationError(
            f"{where}.window_lasts: an activity notice needs its window's length "
            '(window_opens after the inject, e.g. "10m"; window_lasts, e.g. "30m")'
        )
    off_km = read_number(table.get("location_off_km", 0), f"{where}.location_off_km")
    if off_km < 0:
        raise ConfigurationError(f"{where}.location_off_km: must be 0 or more")
    return Inject(
        base.inject_id, base.at, base.kind, base.description,
        station=station, envelope=envelope, window_opens=opens, window_lasts=lasts,
        delivery_delay=read_offset(table.get("delivery_delay", 0), f"{where}.delivery_delay"),
        location_off_m=off_km * 1000.0,
        off_bearing_deg=read_number(table.get("off_bearing_deg", 90), f"{where}.off_bearing_deg"),
    )  # fmt: skip


def _objective(table: Mapping[str, Any], where: str, injects: set[str]) -> Objective:
    check_known(
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
    within = read_offset(table.get("within"), f"{where}.within", required=needs_within)
    party = str(table.get("party", ""))
    if kind is not ObjectiveKind.RESUMED_WITHIN and not party:
        raise ConfigurationError(f"{where}.party: required for {kind.value}")
    message = str(table.get("message", ""))
    if kind is ObjectiveKind.SENDS_WITHIN and message not in _SENDABLE:
        raise ConfigurationError(
            f"{where}.message: the kind of message expected, one of " + ", ".join(_SENDABLE)
        )
    return Objective(
        objective_id=read_id(table, where),
        kind=kind,
        description=str(table.get("description", "")),
        party=party,
        inject=inject,
        within=within,
        hotline=read_hotline(table["hotline"], f"{where}.hotline")
        if "hotline" in table
        else common_pb2.HOTLINE_UNSPECIFIED,
        message=message,
    )
