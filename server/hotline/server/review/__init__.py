"""After-action review of a recorded exercise: its picture (tracks, zones, alerts),
the figures trainers look at, and the report.

:func:`build_report` is what ``hotline report`` calls: it reads the log's records once
and returns one self-contained HTML page.
"""

from hotline.server.review.report import build_report, estimated_height

__all__ = ["build_report", "estimated_height"]
