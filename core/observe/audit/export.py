"""Export audit rows to CSV or JSON lines, streaming, and read such exports back.

Both formats carry every stored column unchanged (so each exported row can be re-hashed and
checked on its own: see core.observe.audit.chain) plus two readable columns, ``ts_utc`` and
``written_utc`` (ISO 8601, UTC, ms). ``payload`` is the stored JSON text as a string (not
re-encoded, so its hash still matches). In CSV an absent ``ts_ms`` is an empty cell; in JSON
lines it is ``null``. Files are created 0600: they hold the desk's trades.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from core.domain.errors import BadInput
from core.domain.timeutil import ms_to_iso
from core.observe.audit.chain import COLUMNS, AuditRow
from core.observe.audit.store import RowFilter, count_rows, iter_rows, open_readonly
from core.observe.statedir import create_private

FORMATS = ("csv", "jsonl")
EXPORT_COLUMNS = (*COLUMNS[:3], "ts_utc", COLUMNS[3], "written_utc", *COLUMNS[4:])
"""Exported columns: the stored ones with ``ts_utc`` and ``written_utc`` beside the ms."""

ProgressFn = Callable[[int, int], None]
"""``progress(rows_done, rows_total)``, called from the exporting thread."""

PROGRESS_EVERY = 1000


class ExportError(BadInput):
    """A bad format name or an unreadable export file (the message names file and line)."""


def _record(row: AuditRow) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "run_id": row.run_id,
        "ts_ms": row.ts_ms,
        "ts_utc": ms_to_iso(row.ts_ms) if row.ts_ms is not None else None,
        "written_ts_ms": row.written_ts_ms,
        "written_utc": ms_to_iso(row.written_ts_ms),
        "kind": row.kind,
        "venue": row.venue,
        "symbol": row.symbol,
        "client_order_id": row.client_order_id,
        "payload": row.payload,
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def write_rows(rows: Iterator[AuditRow], out: IO[str], fmt: str, on_row: Callable[[], None]) -> int:
    """Write ``rows`` to the text stream ``out`` in ``fmt``; return how many."""
    n = 0
    if fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(EXPORT_COLUMNS)
        for row in rows:
            rec = _record(row)
            w.writerow(["" if rec[c] is None else rec[c] for c in EXPORT_COLUMNS])
            n += 1
            on_row()
    elif fmt == "jsonl":
        for row in rows:
            out.write(orjson.dumps(_record(row)).decode())
            out.write("\n")
            n += 1
            on_row()
    else:
        raise ExportError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
    return n


def export_rows(
    db_path: str | Path,
    out: str | Path | IO[str],
    fmt: str,
    *,
    run_id: str | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
    kinds: Sequence[str] = (),
    progress: ProgressFn | None = None,
    progress_every: int = PROGRESS_EVERY,
) -> int:
    """Stream the rows of ``db_path`` that match the filters (see
    :class:`core.observe.audit.store.RowFilter`) to ``out`` (a path, created 0600, or an open text
    stream) as ``fmt`` (``csv`` or ``jsonl``); return the number of rows written.

    ``progress(done, total)`` is called every ``progress_every`` rows and at the end.
    Raises :class:`core.observe.audit.store.AuditStoreError` (no such database), ExportError (bad
    format) or OSError (cannot write ``out``).
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
    flt = RowFilter(since_ms, until_ms, tuple(kinds), run_id)
    conn = open_readonly(db_path)
    try:
        total = count_rows(conn, flt) if progress else 0
        done = 0

        def on_row() -> None:
            nonlocal done
            done += 1
            if progress is not None and done % progress_every == 0:
                progress(done, max(total, done))

        rows = iter_rows(conn, flt)
        if isinstance(out, str | Path):
            path = Path(out)
            create_private(path)
            with path.open("w", encoding="utf-8", newline="") as fh:
                fh.truncate()
                n = write_rows(rows, fh, fmt, on_row)
        else:
            n = write_rows(rows, out, fmt, on_row)
        if progress is not None:
            progress(n, max(total, n))
        return n
    finally:
        conn.close()


def read_export(path: str | Path, fmt: str) -> Iterator[AuditRow]:
    """The rows of an export file, as stored (streaming). Raises ExportError naming the
    file and line of a malformed row."""
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as fh:
        if fmt == "csv":
            reader = csv.DictReader(fh)
            for line_no, rec in enumerate(reader, start=2):
                yield _row(rec, path, line_no, csv_cells=True)
        elif fmt == "jsonl":
            for line_no, line in enumerate(fh, start=1):
                try:
                    rec = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise ExportError(f"{path}:{line_no}: not JSON: {exc}") from None
                yield _row(rec, path, line_no, csv_cells=False)
        else:
            raise ExportError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")


def _row(rec: dict[str, Any], path: Path, line_no: int, *, csv_cells: bool) -> AuditRow:
    try:
        ts = rec["ts_ms"]
        if csv_cells:
            ts = int(ts) if ts != "" else None
        return AuditRow(
            seq=int(rec["seq"]),
            run_id=str(rec["run_id"]),
            ts_ms=ts,
            written_ts_ms=int(rec["written_ts_ms"]),
            kind=str(rec["kind"]),
            venue=str(rec["venue"]),
            symbol=str(rec["symbol"]),
            client_order_id=str(rec["client_order_id"]),
            payload=str(rec["payload"]),
            prev_hash=str(rec["prev_hash"]),
            hash=str(rec["hash"]),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ExportError(f"{path}:{line_no}: bad row: {type(exc).__name__} {exc}") from None
