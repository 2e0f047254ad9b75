"""The protocol's rules that the ``.proto`` files cannot state, written once.

Both sides follow them: the server when it checks, records and routes a message, the
client library when it sends, acknowledges and resumes, the ``hotline`` command and
the offline tools when they read a log. ``hotline.v1`` holds the messages; this
package holds what the messages mean:

- whose message ids are whose (:data:`SERVER_ID_PREFIX`, :func:`escalation_id`);
- which bodies a station may send, which need a RECEIPT and which an operator's
  response as well (:func:`needs_receipt`, :func:`needs_response`);
- which fields only the server sets (:data:`SERVER_FIELDS`,
  :data:`ACKNOWLEDGMENT_SERVER_FIELDS`);
- how a gRPC status travels inside a message (:func:`status_code`,
  :func:`status_number`);
- how times convert between ``Timestamp``/``Duration`` and UNIX seconds
  (:func:`timestamp`, :func:`seconds`, :func:`duration`).
"""

from hotline.contract._envelopes import (
    ACKNOWLEDGMENT_SERVER_FIELDS,
    NEEDS_RESPONSE,
    RECEIPT_ONLY,
    RECORDED_FIELDS,
    RESPONSES,
    SERVER_BODIES,
    SERVER_FIELDS,
    SERVER_ID_PREFIX,
    STATION_BODIES,
    UNACKNOWLEDGED,
    escalated_from,
    escalation_id,
    needs_receipt,
    needs_response,
)
from hotline.contract._statuses import status_code, status_number
from hotline.contract._times import duration, seconds, set_timestamp, timestamp

__all__ = [
    "ACKNOWLEDGMENT_SERVER_FIELDS",
    "NEEDS_RESPONSE",
    "RECEIPT_ONLY",
    "RECORDED_FIELDS",
    "RESPONSES",
    "SERVER_BODIES",
    "SERVER_FIELDS",
    "SERVER_ID_PREFIX",
    "STATION_BODIES",
    "UNACKNOWLEDGED",
    "duration",
    "escalated_from",
    "escalation_id",
    "needs_receipt",
    "needs_response",
    "seconds",
    "set_timestamp",
    "status_code",
    "status_number",
    "timestamp",
]
