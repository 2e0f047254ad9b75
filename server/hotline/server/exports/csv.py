"""CSV (RFC 4180): one row per log record, for spreadsheets and scripts.

The columns never change, whatever the log holds:

=============  =================================================================
``index``      the record's position in the log (0-based)
``time``       the server time of the record, UTC ISO 8601 to the millisecond
``kind``       the record kind (``ENVELOPE``, ``DEADLINE_MISSED``, ...)
``hotline``    the hotline, empty for records that concern none
``actor``      who caused it (``BLUE/AIR_OPERATIONS``, ``server``, a trainer)
``message_id`` the message the record concerns, if any
``body``       what the record carries: an envelope's body (``position_report``,
               ``alert``, ...) or the payload of any other record
``summary``    one readable line (the same as ``hotline replay`` shows)
=============  =================================================================

Rows are written as the records are read, with CRLF line ends and quoting where a
field needs it.
"""

from __future__ import annotations

import csv
from typing import TextIO

from hotline.contract import seconds
from hotline.server.exports._common import ExportOptions, Records, enum_name, iso
from hotline.v1 import common_pb2, log_pb2

__all__ = ["COLUMNS", "row", "write"]

COLUMNS = ("index", "time", "kind", "hotline", "actor", "message_id", "body", "summary")


def write(records: Records, out: TextIO, options: ExportOptions) -> None:
    """Writes the header and one row per record to ``out``."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for index, record in records:
        writer.writerow(row(index, record, options))


def row(index: int, record: log_pb2.LogRecord, options: ExportOptions) -> list[str]:
    """The fields of one record, in :data:`COLUMNS` order."""
    payload = record.WhichOneof("payload") or ""
    body: str = payload
    message_id = record.correlation_id
    if payload == "envelope":
        body = record.envelope.WhichOneof("body") or ""
        message_id = message_id or record.envelope.message_id
    return [
        str(index),
        iso(seconds(record.recorded_at)),
        enum_name(log_pb2.RecordKind, record.kind, "RECORD_KIND_"),
        enum_name(common_pb2.Hotline, record.hotline, "HOTLINE_") if record.hotline else "",
        record.actor,
        message_id,
        body,
        options.describe(record),
    ]
