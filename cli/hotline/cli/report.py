"""``hotline report``: the after-action report of a recorded exercise.

    hotline report LOG --key PUBKEY -o report.html
    hotline report LOG --key PUBKEY -o report.png     (or report.pdf, for briefings)
    hotline report LOG --no-verify -o report.html

LOG is a SQLite file (a copy is fine; it is opened read-only) or a ``postgresql://``
URL. The whole log is verified against PUBKEY first and a log that does not verify is
refused (exit 1) unless ``--no-verify``; the report says which it was. With
``--allow-unsigned-tail`` the records after the last checkpoint are accepted, and the
report names them apart from the records the checkpoint proves. The HTML file is
self-contained (no network needed to view it). A ``.png`` or ``.pdf`` output renders
the same page with headless Chromium (Debian package ``chromium``), which must be
installed; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hotline.cli import recorded
from hotline.server.audit import (
    Checkpoint,
    MalformedInput,
    VerificationReport,
    parse_checkpoint,
    parse_note,
)
from hotline.server.review import build_report, estimated_height
from hotline.server.storage import Backend

__all__ = ["add_parser", "render_with_chromium"]

#: Where Debian's ``chromium`` package puts the browser.
DEBIAN_CHROMIUM = "/usr/bin/chromium"
#: A headless browser that stays offline and leaves nothing behind.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
#: The browser window's width for a PNG, in CSS pixels.
PNG_WIDTH = 1280
CHROMIUM_TIMEOUT_S = 120.0
_FORMATS = {".html": "html", ".htm": "html", ".png": "png", ".pdf": "pdf"}


def add_parser(commands: Any) -> None:
    report = commands.add_parser(
        "report",
        help="write the after-action report of a recorded exercise (HTML, PNG or PDF)",
        description="Verifies the log against the server's key, then writes one "
        "self-contained report: map, timeline, acknowledgment latency and time lost, "
        "escalation chains, incursions and breaches, trainer annotations.",
    )
    recorded.add_log_arguments(report)
    report.add_argument(
        "-o",
        "--output",
        required=True,
        type=Path,
        help="the report file: .html, or .png / .pdf (rendered with headless Chromium)",
    )
    report.add_argument("--title", default="", help="the report's title (default: the exercise)")
    report.add_argument(
        "--chromium",
        default=shutil.which("chromium") or DEBIAN_CHROMIUM,
        help="the Chromium binary for .png and .pdf (default %(default)s)",
    )
    report.set_defaults(run=run_report)


def _format(output: Path) -> str:
    kind = _FORMATS.get(output.suffix.lower())
    if kind is None:
        raise SystemExit(
            f"hotline report: {output}: name the output .html, .png or .pdf "
            "(the format follows the extension)"
        )
    return kind


def verified_checkpoint(backend: Backend, report: VerificationReport | None) -> Checkpoint | None:
    """The stored checkpoint the log was verified against: the last one of the size
    the records were proven to match (its signature was checked with the log)."""
    if report is None or not report.verified_size:
        return None
    for stored in reversed(backend.checkpoints()):
        if stored.size != report.verified_size:
            continue
        try:
            return parse_checkpoint(parse_note(stored.note).text)
        except MalformedInput:
            continue
    return None


async def render_with_chromium(page: Path, output: Path, kind: str, chromium: str) -> None:
    """Renders an HTML file to PNG (the whole page, as one image) or PDF with headless
    Chromium, offline. Raises :class:`SystemExit` with the reason when Chromium is
    missing, fails or writes nothing."""
    if shutil.which(chromium) is None:
        raise SystemExit(
            f"hotline report: a .{kind} report needs Chromium, and there is none at "
            f"{chromium!r}; install it (apt-get install chromium), pass --chromium PATH, "
            "or write .html"
        )
    # A one-shot command: nothing else runs in the loop, so plain file calls are fine.
    output = output.resolve()  # noqa: ASYNC240
    output.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="hotline-chromium-") as profile:
        command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
        if kind == "png":
            height = estimated_height(page.read_text(encoding="utf-8"), PNG_WIDTH)  # noqa: ASYNC240
            command += [f"--window-size={PNG_WIDTH},{height}", f"--screenshot={output}"]
        else:
            command += ["--no-pdf-header-footer", f"--print-to-pdf={output}"]
        command.append(page.resolve().as_uri())  # noqa: ASYNC240
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(CHROMIUM_TIMEOUT_S):
                _, errors = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            raise SystemExit(
                f"hotline report: Chromium did not finish within {CHROMIUM_TIMEOUT_S:.0f} s"
            ) from None
    if process.returncode != 0 or not output.is_file() or output.stat().st_size == 0:
        detail = errors.decode(errors="replace").strip().splitlines()[-3:]
        raise SystemExit(
            f"hotline report: Chromium could not render {output.name} "
            f"(exit {process.returncode}): {' / '.join(detail) or 'no output'}"
        )


async def run_report(args: argparse.Namespace) -> int:
    output: Path = args.output
    kind = _format(output)
    with recorded.opened_log(args, "report") as backend:
        verification = recorded.verification(backend, args, "report")
        checkpoint = verified_checkpoint(backend, verification)
        page = build_report(
            recorded.parsed_records(backend),
            verification,
            title=args.title,
            checkpoint=checkpoint,
        )
    if kind == "html":
        output.write_text(page, encoding="utf-8")  # noqa: ASYNC240  (nothing else runs)
    else:
        with tempfile.TemporaryDirectory(prefix="hotline-report-") as directory:
            source = Path(directory) / "report.html"
            source.write_text(page, encoding="utf-8")
            await render_with_chromium(source, output, kind, args.chromium)
    print(f"hotline report: wrote {output}", file=sys.stderr)
    return 0
