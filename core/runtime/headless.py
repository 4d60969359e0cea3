"""Headless runs: the same engine without a console, as fast as it can go.

:func:`run_replay` returns the report; :func:`headless_replay` is ``arbtui --replay FILE
--headless``: it prints the report (text or JSON) and returns the exit code. An audit log that
could not be written (disk full, file gone) does not lose the report: it is printed, then one
line on stderr names the audit file and the error, and the exit code is 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

from core.analysis.replay import iter_replay
from core.analysis.report import format_text
from core.domain.config import Settings
from core.domain.errors import ArbtuiError
from core.observe.audit.writer import AuditWriteError
from core.runtime.drive import Drive, check_header
from core.runtime.wiring import Closer
from core.venues.history import funding_caps

__all__ = ["AuditLogFailed", "check_header", "headless_replay", "run_replay"]


class AuditLogFailed(ArbtuiError):
    """The replay ran to its end but its audit log could not be written: ``report`` is the
    run's report; the message names the audit file and the error (exit code 1)."""

    def __init__(self, text: str, report: dict[str, Any]) -> None:
        super().__init__(text)
        self.report = report


def run_replay(settings: Settings, path: str | Path) -> dict[str, Any]:
    """Replay ``path`` through a fresh engine and return the report (see core.analysis.report).

    Raises :class:`core.analysis.replay.ReplayError` on a bad file or line, and
    :class:`AuditLogFailed` (carrying the report) when the audit log could not be written.
    """
    header, events = iter_replay(path, funding_caps())
    drive = Drive.replay(
        settings, events, header=header, run_id=f"replay-{Path(path).name}", source=str(path)
    )
    audit: list[AuditWriteError] = []
    other: list[Exception] = []

    def on_error(_: Closer, exc: Exception) -> None:
        if isinstance(exc, AuditWriteError):
            audit.append(exc)
        else:
            other.append(exc)

    try:
        drive.run()
    finally:
        drive.close(on_error)  # a failure of the run itself goes on up, unmasked
    if other:
        raise other[0]
    report = drive.report()
    if audit:
        raise AuditLogFailed(f"audit log not written: {audit[0]}", report)
    return report


def print_report(report: dict[str, Any], fmt: str, out: TextIO) -> None:
    """Print ``report`` as ``fmt`` (``json`` or ``text``)."""
    print(json.dumps(report) if fmt == "json" else format_text(report), file=out)


def headless_replay(
    settings: Settings,
    path: str | Path,
    fmt: str = "text",
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``arbtui --replay FILE --headless``: print the report; return 0, or 1 after one line on
    ``err`` when the audit log could not be written (the report is printed first)."""
    try:
        report = run_replay(settings, path)
    except AuditLogFailed as exc:
        print_report(exc.report, fmt, out or sys.stdout)
        print(f"arbtui: {exc}", file=err or sys.stderr)
        return exc.exit_code
    print_report(report, fmt, out or sys.stdout)
    return 0
