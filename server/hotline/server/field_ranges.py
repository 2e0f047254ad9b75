"""Values the wire format carries but no valid request holds, refused naming the field.

Three rules hold for every field of every message of the contract, whatever it means:

* a ``google.protobuf.Timestamp`` lies between 0001-01-01 and 9999-12-31 (UTC), its
  ``nanos`` in [0, 999999999];
* a ``google.protobuf.Duration`` lies within ±10,000 years, its ``nanos`` in
  [-999999999, 999999999] and of the sign of its ``seconds``;
* a ``uint64`` is at most 2^63 - 1: sequence numbers and log indexes are stored as
  signed 64-bit integers, and none will ever come near that.

Protobuf's own conversions raise ``ValueError`` or ``OverflowError`` on such values, so
one walk by descriptor (:func:`check_ranges`) checks them all at the edge, before any
other check reads a field. It visits only the fields that can hold such a value
(worked out once per message type) and builds the field's path only for the error,
e.g. ``zone_proposal.zone.effective_from.nanos: -1 is outside [0, 999999999]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from hotline.server.errors import InvalidArgument

__all__ = [
    "MAX_INTEGER",
    "check_duration",
    "check_ranges",
    "check_timestamp",
]

#: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z in seconds since the epoch.
MIN_TIMESTAMP_S = -62_135_596_800
MAX_TIMESTAMP_S = 253_402_300_799
#: 10,000 years, the range of a Duration.
MAX_DURATION_S = 315_576_000_000
MAX_NANOS = 999_999_999
#: The largest integer the service takes in a uint64 field (2^63 - 1).
MAX_INTEGER = 2**63 - 1


class _OutOfRange(Exception):
    """A value out of range; the walk adds the path of each message it came through."""

    def __init__(self, problem: str, *within: str) -> None:
        super().__init__(problem)
        self.problem = problem
        #: Innermost first; an integer field's name is added by the message holding it.
        self.path = list(within)

    def within(self, field: str) -> _OutOfRange:
        self.path.append(field)
        return self

    def refusal(self) -> InvalidArgument:
        return InvalidArgument(f"{'.'.join(reversed(self.path))}: {self.problem}")


def _timestamp_problem(seconds: int, nanos: int) -> _OutOfRange | None:
    if not 0 <= nanos <= MAX_NANOS:
        return _OutOfRange(f"{nanos} is outside [0, {MAX_NANOS}]", "nanos")
    if not MIN_TIMESTAMP_S <= seconds <= MAX_TIMESTAMP_S:
        return _OutOfRange(
            f"{seconds} is outside [{MIN_TIMESTAMP_S}, {MAX_TIMESTAMP_S}] "
            "(0001-01-01 to 9999-12-31 UTC)",
            "seconds",
        )
    return None


def _duration_problem(seconds: int, nanos: int) -> _OutOfRange | None:
    if not -MAX_NANOS <= nanos <= MAX_NANOS:
        return _OutOfRange(f"{nanos} is outside [-{MAX_NANOS}, {MAX_NANOS}]", "nanos")
    if not -MAX_DURATION_S <= seconds <= MAX_DURATION_S:
        return _OutOfRange(
            f"{seconds} is outside [-{MAX_DURATION_S}, {MAX_DURATION_S}] (10,000 years)",
            "seconds",
        )
    if (seconds > 0 and nanos < 0) or (seconds < 0 and nanos > 0):
        return _OutOfRange(f"{nanos} must have the sign of seconds ({seconds})", "nanos")
    return None


def check_timestamp(stamp: Timestamp, field: str) -> None:
    """Raises InvalidArgument naming ``field`` unless ``stamp`` is a valid Timestamp."""
    problem = _timestamp_problem(stamp.seconds, stamp.nanos)
    if problem is not None:
        raise problem.within(field).refusal()


def check_duration(duration: Duration, field: str) -> None:
    """Raises InvalidArgument naming ``field`` unless ``duration`` is a valid Duration."""
    problem = _duration_problem(duration.seconds, duration.nanos)
    if problem is not None:
        raise problem.within(field).refusal()


#: One check of a message: the function, the field (or oneof) name, and what it needs.
_Check: TypeAlias = tuple[Callable[[Message, str, Any], None], str, Any]
_Plan: TypeAlias = tuple[_Check, ...]
_Problem: TypeAlias = Callable[[int, int], "_OutOfRange | None"]

_STAMPS: dict[str, _Problem] = {
    Timestamp.DESCRIPTOR.full_name: _timestamp_problem,
    Duration.DESCRIPTOR.full_name: _duration_problem,
}
_INTEGERS = frozenset({FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64})
_plans: dict[tuple[Descriptor, frozenset[Descriptor]], _Plan] = {}


def _too_large(value: int) -> _OutOfRange:
    return _OutOfRange(f"{value} is past the largest value accepted, {MAX_INTEGER}")


# Checks of one value (an item of a repeated field or a map), raising _OutOfRange.


def _stamp_value(value: Any, problem: _Problem) -> None:
    found = problem(value.seconds, value.nanos)
    if found is not None:
        raise found


def _integer_value(value: Any, _: None) -> None:
    if value > MAX_INTEGER:
        raise _too_large(value)


def _message_value(value: Any, plan: _Plan) -> None:
    for check, name, arg in plan:
        check(value, name, arg)


# Checks of one field of a message.


def _singular(message: Message, name: str, item: tuple[Callable[[Any, Any], None], Any]) -> None:
    if message.HasField(name):
        check, arg = item
        try:
            check(getattr(message, name), arg)
        except _OutOfRange as problem:
            raise problem.within(name) from None


def _stamp(message: Message, name: str, problem: _Problem) -> None:
    """A singular Timestamp or Duration (in nearly every message: one call, not two)."""
    if message.HasField(name):
        value = getattr(message, name)
        found = problem(value.seconds, value.nanos)
        if found is not None:
            raise found.within(name)


def _integer(message: Message, name: str, _: None) -> None:
    value = getattr(message, name)
    if value > MAX_INTEGER:
        raise _too_large(value).within(name)


def _repeated(message: Message, name: str, item: tuple[Callable[[Any, Any], None], Any]) -> None:
    check, arg = item
    for i, value in enumerate(getattr(message, name)):
        try:
            check(value, arg)
        except _OutOfRange as problem:
            raise problem.within(f"{name}[{i}]") from None


def _map(message: Message, name: str, item: tuple[Callable[[Any, Any], None], Any]) -> None:
    check, arg = item
    for key, value in getattr(message, name).items():
        try:
            check(value, arg)
        except _OutOfRange as problem:
            raise problem.within(f"{name}[{key!r}]") from None


def _oneof(message: Message, name: str, members: dict[str, _Check]) -> None:
    """Only the member set is looked at (one lookup, not one per member)."""
    which = message.WhichOneof(name)
    if which is not None:
        member = members.get(which)
        if member is not None:
            check, field, arg = member
            check(message, field, arg)


def _item(
    field: FieldDescriptor, skip: frozenset[Descriptor], seen: frozenset[str]
) -> tuple[Callable[[Any, Any], None], Any] | None:
    """How to check one value of ``field``, or None if it cannot be out of range."""
    if field.type in _INTEGERS:
        return _integer_value, None
    message = field.message_type
    if message is None:
        return None
    problem = _STAMPS.get(message.full_name)
    if problem is not None:
        return _stamp_value, problem
    if message in skip or message.full_name in seen:
        # A recursive message is checked as deep as it goes by its first appearance.
        return None
    plan = _plan(message, skip, seen)
    return (_message_value, plan) if plan else None


def _field_check(
    field: FieldDescriptor, skip: frozenset[Descriptor], seen: frozenset[str]
) -> _Check | None:
    message = field.message_type
    if message is not None and message.GetOptions().map_entry:
        values = _item(message.fields_by_name["value"], skip, seen)
        return None if values is None else (_map, field.name, values)
    item = _item(field, skip, seen)
    if item is None:
        return None
    if field.is_repeated:
        return _repeated, field.name, item
    if item[0] is _integer_value:
        return _integer, field.name, None
    if item[0] is _stamp_value:
        return _stamp, field.name, item[1]
    return _singular, field.name, item


def _plan(
    descriptor: Descriptor, skip: frozenset[Descriptor], seen: frozenset[str] = frozenset()
) -> _Plan:
    key = (descriptor, skip)
    plan = _plans.get(key)
    if plan is not None:
        return plan
    inner = seen | {descriptor.full_name}
    checks: list[_Check] = []
    oneofs: dict[str, dict[str, _Check]] = {}
    for field in descriptor.fields:
        check = _field_check(field, skip, inner)
        if check is None:
            continue
        oneof = field.containing_oneof
        if oneof is None or len(oneof.fields) == 1:
            # A proto3 ``optional`` field sits alone in a oneof of its own.
            checks.append(check)
        else:
            oneofs.setdefault(oneof.name, {})[field.name] = check
    checks += [(_oneof, name, members) for name, members in oneofs.items()]
    plan = tuple(checks)
    if not seen:
        _plans[key] = plan
    return plan


# A plan compiled: one function of the message that answers whether every value is in
# range, with the walk's calls inlined. Nearly every request is, and the walk above is
# then taken only to name what is not.

#: What a value ``v`` of each kind must satisfy, as the walk's checks decide it.
_VALUE_TESTS: dict[object, str] = {
    _integer_value: "v <= MAX_INTEGER",
    _timestamp_problem: (
        "0 <= v.nanos <= MAX_NANOS and MIN_TIMESTAMP_S <= v.seconds <= MAX_TIMESTAMP_S"
    ),
    _duration_problem: "_duration_problem(v.seconds, v.nanos) is None",
}
_in_range: dict[tuple[Descriptor, frozenset[Descriptor]], Callable[[Message], bool]] = {}


class _Compiler:
    """Writes the source of one function per plan (nested plans call theirs)."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.functions: list[str] = []

    def function(self, plan: _Plan) -> str:
        name = self.names.get(id(plan))
        if name is None:
            name = self.names[id(plan)] = f"_plan_{len(self.names)}"
            lines = [f"def {name}(m):"]
            for check in plan:
                lines += self.statements(check, "    ")
            self.functions.append("\n".join([*lines, "    return True"]))
        return name

    def test(self, item: tuple[Callable[[Any, Any], None], Any]) -> str:
        check, arg = item
        if check is _message_value:
            return f"{self.function(arg)}(v)"
        return _VALUE_TESTS[arg if check is _stamp_value else check]

    def statements(self, check: _Check, indent: str, chosen: bool = False) -> list[str]:
        """The statements of one check of ``m``; ``chosen``: the oneof member that is set."""
        kind, name, arg = check
        inner = indent + "    "
        if kind is _integer:
            return [f"{indent}if m.{name} > MAX_INTEGER: return False"]
        if kind is _oneof:
            lines = [f"{indent}w = m.WhichOneof({name!r})"]
            for i, (member, member_check) in enumerate(arg.items()):
                lines.append(f"{indent}{'elif' if i else 'if'} w == {member!r}:")
                lines += self.statements(member_check, inner, chosen=True)
            return lines
        test = self.test((_stamp_value, arg) if kind is _stamp else arg)
        if kind is _repeated:
            head = f"{indent}for v in m.{name}:"
        elif kind is _map:
            head = f"{indent}for v in m.{name}.values():"
        elif chosen:
            return [f"{indent}v = m.{name}", f"{indent}if not ({test}): return False"]
        else:
            head = f"{indent}if m.HasField({name!r}):\n{inner}v = m.{name}"
        return [head, f"{inner}if not ({test}): return False"]


def _compiled(descriptor: Descriptor, skip: frozenset[Descriptor]) -> Callable[[Message], bool]:
    compiler = _Compiler()
    entry = compiler.function(_plans.get((descriptor, skip)) or _plan(descriptor, skip))
    namespace: dict[str, Any] = {
        "MAX_INTEGER": MAX_INTEGER,
        "MAX_NANOS": MAX_NANOS,
        "MIN_TIMESTAMP_S": MIN_TIMESTAMP_S,
        "MAX_TIMESTAMP_S": MAX_TIMESTAMP_S,
        "_duration_problem": _duration_problem,
    }
    exec("\n\n".join(compiler.functions), namespace)
    function: Callable[[Message], bool] = namespace[entry]
    _in_range[(descriptor, skip)] = function
    return function


def check_ranges(message: Message, *, skip: frozenset[Descriptor] = frozenset()) -> None:
    """Raises InvalidArgument, naming the field's path, for the first Timestamp, Duration
    or uint64 of ``message`` (at any depth) that is out of range. Messages of the types
    in ``skip`` are not entered (their own check walks them)."""
    descriptor = cast("Descriptor", message.DESCRIPTOR)
    key = (descriptor, skip)
    if (_in_range.get(key) or _compiled(descriptor, skip))(message):
        return
    try:
        _message_value(message, _plans[key])
    except _OutOfRange as problem:
        raise problem.refusal() from None
