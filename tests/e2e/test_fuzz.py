"""Whatever a client sends through a bare stub, the answer is a precise status.

Hypothesis draws calls to every method of the contract: arbitrary bytes, and messages
built from the contract's descriptors with wild values in every field (integers at and
past their limits, NaN and infinities, Timestamps and Durations out of range, unknown
enum numbers, envelopes with a plausible header and a wild body), with a station's,
exercise control's, a forged or no credential. No call may end with UNKNOWN or INTERNAL,
and after each one a station still sends and has its message recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hotline.client import HotlineClient, Refused, envelope
from hotline.testing.harness import AIR, Harness
from hotline.v1 import common_pb2, envelope_pb2, messages_pb2, services_pb2

METHODS: list[MethodDescriptor] = [
    method for service in services_pb2.DESCRIPTOR.services_by_name.values()
    for method in service.methods
]  # fmt: skip
#: How long an accepted open-ended stream (a watch, a paused replay) is held.
OPEN_STREAM_S = 0.5
FORBIDDEN = frozenset({grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL})
BLUE_AIR = common_pb2.StationRef(party="BLUE", hotline=AIR)
_S = FieldDescriptor

# ---------------------------------------------------------------- wild messages

_INTEGERS = {
    _S.TYPE_INT32: (-(2**31), 2**31 - 1),
    _S.TYPE_SINT32: (-(2**31), 2**31 - 1),
    _S.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    _S.TYPE_ENUM: (-(2**31), 2**31 - 1),
    _S.TYPE_UINT32: (0, 2**32 - 1),
    _S.TYPE_FIXED32: (0, 2**32 - 1),
    _S.TYPE_INT64: (-(2**63), 2**63 - 1),
    _S.TYPE_SINT64: (-(2**63), 2**63 - 1),
    _S.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    _S.TYPE_UINT64: (0, 2**64 - 1),
    _S.TYPE_FIXED64: (0, 2**64 - 1),
}
_WORDS = st.sampled_from(["BLUE", "RED", "GREEN", "srv:1", "ROZ-1", "x" * 129, "", " "])


def _scalar(descriptor: FieldDescriptor) -> st.SearchStrategy[Any]:
    kind = descriptor.type
    if kind in _INTEGERS:
        low, high = _INTEGERS[kind]
        small = st.integers(max(low, -3), min(high, 3))
        if kind == _S.TYPE_ENUM:
            assert descriptor.enum_type is not None
            small = st.sampled_from([v.number for v in descriptor.enum_type.values])
        return st.one_of(small, st.integers(low, high))
    if kind == _S.TYPE_BOOL:
        return st.booleans()
    if kind in (_S.TYPE_DOUBLE, _S.TYPE_FLOAT):
        return st.floats(width=64 if kind == _S.TYPE_DOUBLE else 32)
    if kind == _S.TYPE_BYTES:
        return st.binary(max_size=32)
    return st.one_of(_WORDS, st.text(max_size=24))


_messages: dict[tuple[str, int], st.SearchStrategy[Message]] = {}


def wild(descriptor: Descriptor, depth: int = 4) -> st.SearchStrategy[Message]:
    """Messages of ``descriptor`` with any subset of fields set to wild values."""
    key = (descriptor.full_name, depth)
    if key not in _messages:
        values: dict[str, st.SearchStrategy[Any]] = {}
        for f in descriptor.fields:
            if f.message_type is not None and f.message_type.GetOptions().map_entry:
                entry = f.message_type.fields_by_name
                values[f.name] = st.dictionaries(
                    _scalar(entry["key"]), _value(entry["value"], depth), max_size=2
                )
            elif f.is_repeated:
                values[f.name] = st.lists(_value(f, depth), max_size=3)
            else:
                values[f.name] = _value(f, depth)
        _messages[key] = st.fixed_dictionaries({}, optional=values).map(
            lambda fields: _build(descriptor, fields)
        )
    return _messages[key]


def _value(descriptor: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if descriptor.message_type is None:
        return _scalar(descriptor)
    if depth == 0:
        return st.just(GetMessageClass(descriptor.message_type)())
    return wild(descriptor.message_type, depth - 1)


def _build(descriptor: Descriptor, fields: dict[str, Any]) -> Message:
    message = GetMessageClass(descriptor)()
    for name, value in fields.items():
        target = getattr(message, name, None)
        if isinstance(value, Message):
            target.CopyFrom(value)  # type: ignore[union-attr]
        elif isinstance(value, list):
            if value and isinstance(value[0], Message):
                target.extend(value)  # type: ignore[union-attr]
            else:
                target.extend(value)  # type: ignore[union-attr]
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, Message):
                    target[key].CopyFrom(item)  # type: ignore[index]
                else:
                    target[key] = item  # type: ignore[index]
        else:
            setattr(message, name, value)
    return message


@st.composite
def envelopes(draw: st.DrawFn) -> envelope_pb2.Envelope:
    """A wild envelope; mostly with a header BLUE's station could send, so that the
    checks past the header are reached too."""
    message = draw(wild(envelope_pb2.Envelope.DESCRIPTOR))
    assert isinstance(message, envelope_pb2.Envelope)
    if draw(st.booleans()):
        message.message_id = uuid.uuid4().hex
        message.sender.CopyFrom(BLUE_AIR)
        message.hotline = AIR
        message.priority = draw(st.sampled_from(common_pb2.Priority.values()[1:]))
        message.sent_at.FromNanoseconds(time.time_ns())
        for name in ("sequence", "recorded_at", "audience", "escalation_of", "replay_of"):
            message.ClearField(name)
    return message


@st.composite
def requests(draw: st.DrawFn, method: MethodDescriptor) -> bytes:
    """One request message of ``method``, serialised: bytes or a wild message."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.binary(max_size=256))
    message = draw(wild(method.input_type))
    if isinstance(message, services_pb2.SendRequest) and draw(st.integers(0, 3)):
        message.envelope.CopyFrom(draw(envelopes()))
    if isinstance(message, services_pb2.SessionRequest) and draw(st.integers(0, 3)):
        batch = draw(st.lists(envelopes(), min_size=1, max_size=3))
        message.envelopes.envelopes.extend(batch)
    return message.SerializeToString()


@dataclass
class Call:
    method: MethodDescriptor
    credential: str
    payloads: list[bytes] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"


#: Stations' methods carry the traffic: half the calls go to them.
STATION_METHODS = [m for m in METHODS if m.containing_service.name == "StationService"]


@st.composite
def calls(draw: st.DrawFn) -> Call:
    method = draw(st.one_of(st.sampled_from(STATION_METHODS), st.sampled_from(METHODS)))
    credential = draw(st.sampled_from(["station"] * 3 + ["control", "forged", "none"]))
    count = draw(st.integers(1, 3)) if method.client_streaming else 1
    payloads = [draw(requests(method)) for _ in range(count)]
    if method.name == "Session" and draw(st.booleans()):
        opening = services_pb2.SessionRequest(open=services_pb2.SessionOpen())
        payloads.insert(0, opening.SerializeToString())
    return Call(method, credential, payloads)


# ---------------------------------------------------------------- driving a stub


def metadata(server: Harness, credential: str) -> tuple[tuple[str, str], ...]:
    token = {
        "station": server.token("BLUE", AIR),
        "control": server.role_token(common_pb2.ROLE_EXERCISE_CONTROL),
        "forged": server.token("BLUE", AIR)[:-4] + "AAAA",
    }.get(credential)
    return () if token is None else (("authorization", f"Bearer {token}"),)


async def status_of(
    channel: grpc.aio.Channel, server: Harness, call: Call
) -> grpc.StatusCode | None:
    """Makes ``call`` through a bare stub (bytes in, bytes out) and returns its status;
    an accepted open-ended stream is held until OPEN_STREAM_S and ends with
    DEADLINE_EXCEEDED. None if the server ended a stream while this side was still
    writing to it: the client library then reports its own failed write as INTERNAL,
    and the server's status is not seen (what the server did shows in its log)."""
    method, md = call.method, metadata(server, call.credential)
    try:
        stub: Any
        if not method.client_streaming and not method.server_streaming:
            stub = channel.unary_unary(call.path)
            await stub(call.payloads[0], metadata=md)
            return grpc.StatusCode.OK
        code: grpc.StatusCode
        if not method.client_streaming:
            stub = channel.unary_stream(call.path)
            stream = stub(call.payloads[0], metadata=md, timeout=OPEN_STREAM_S)
            async for _ in stream:
                pass
            code = await stream.code()
            return code
        stub = channel.stream_stream(call.path)
        both = stub(metadata=md, timeout=OPEN_STREAM_S)
        try:
            for payload in call.payloads:
                await both.write(payload)
            await both.done_writing()
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            return None
        async for _ in both:
            pass
        code = await both.code()
        return code
    except grpc.aio.AioRpcError as error:
        return error.code()


async def served(server: Harness) -> None:
    """A station still sends and has its message recorded (the fuzz may have suspended
    its hotline: exercise control resumes it first)."""
    async with (
        server.control() as control,
        HotlineClient(server.address, server.token("BLUE", AIR)) as blue,
    ):
        with contextlib.suppress(Refused):  # FAILED_PRECONDITION: it was not suspended
            await control.resume(AIR)
        result = await blue.send(envelope(BLUE_AIR, messages_pb2.TextMessage(text="radio check")))
    assert result.sequence > 0


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(call=calls())
async def test_no_request_gets_unknown_or_internal(
    server: Harness, call: Call, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.clear()
    async with grpc.aio.insecure_channel(server.address) as channel:
        code = await status_of(channel, server, call)
    event(f"{call.method.name}: {code.name if code else 'ended while writing'}")
    assert code not in FORBIDDEN, f"{call.path} ({call.credential}): {code}"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        assert call.method.server_streaming, "only an open-ended stream is held to its deadline"
    await served(server)
    # What the client cannot see: the server failed on nothing (a servicer's error is
    # logged by the server, or by gRPC, before it becomes INTERNAL or UNKNOWN).
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not failures, f"{call.path} ({call.credential}): {failures}"
