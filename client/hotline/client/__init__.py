"""The participant's asyncio client library: connect as a station, send, receive,
acknowledge; watch, steer and replay the exercise.

    async with StationClient("127.0.0.1:50051", token) as station:
        await station.send(messages_pb2.TextMessage(text="Strike at 0600Z", language="en"))
        async for delivery in station.deliveries():
            await station.acknowledge(delivery, acknowledgments_pb2.ACK_KIND_WILCO)

- :class:`StationClient`: one station console's session; it reconnects by itself and
  resumes without gap or duplicate, and sends each delivery's RECEIPT.
- :class:`HotlineClient`: one-shot calls (send, status, zones) and, for exercise
  control and observers, watching, steering and replaying the exercise
  (:class:`ReplaySession`).
- :class:`Tls` and :class:`TokenFile`: TLS (and mutual TLS) to the server, and a
  token read from a file each time a session opens.
- :func:`envelope`, :func:`acknowledgment`, :func:`new_message_id`: building what is
  sent. The messages themselves are in ``hotline.v1``; the rules both sides follow
  (which messages need an answer, times to and from ``Timestamp``) in
  ``hotline.contract``.
- Errors: :class:`Refused` (the server refused; ``code`` and ``detail`` say why) and
  :class:`SessionFailed` apart from :class:`TransportError` (the call did not get
  through), all :class:`StatusError`; :class:`Closed`; every one a
  :class:`HotlineClientError`.

``docs/client.md`` walks through a session.
"""

from hotline.client._control import HotlineClient
from hotline.client._envelopes import Body, acknowledgment, envelope, new_message_id
from hotline.client._errors import (
    Closed,
    HotlineClientError,
    Refused,
    SessionFailed,
    StatusError,
    TransportError,
)
from hotline.client._replay import ReplayEvent, ReplaySession
from hotline.client._security import Tls, TokenFile, TokenSource
from hotline.client._station import CHANNEL_OPTIONS, StationClient

__all__ = [
    "CHANNEL_OPTIONS",
    "Body",
    "Closed",
    "HotlineClient",
    "HotlineClientError",
    "Refused",
    "ReplayEvent",
    "ReplaySession",
    "SessionFailed",
    "StationClient",
    "StatusError",
    "Tls",
    "TokenFile",
    "TokenSource",
    "TransportError",
    "acknowledgment",
    "envelope",
    "new_message_id",
]
