"""``arbtui audit verify`` and ``arbtui audit export`` (a subcommand of tui/cli.py).

    arbtui audit verify [--db PATH | --mode live|paper|replay]
    arbtui audit export [--format csv|jsonl] [--since ISO] [--until ISO] [--kind K]...
                        [--run RUN_ID] [--db PATH | --mode ...] [--out FILE]

``--db`` defaults to ``audit.path`` of the config with ``{mode}`` replaced by ``--mode``
(default ``live``: the desk's own log; paper sessions and replays keep their own).
``--since``/``--until`` are ISO 8601 UTC instants on the rows' engine time (``ts_ms``; event
time in replays), since inclusive, until exclusive. Exit codes: 0 fine (verify: the chain is
whole), 1 verify found a bad or missing row (named on stdout), 2 bad input (no such database,
bad date, bad arguments).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from core.domain.config import Settings
from core.domain.timeutil import parse_iso_ms
from core.observe.audit.chain import verify_rows
from core.observe.audit.export import FORMATS, export_rows
from core.observe.audit.store import (
    AuditStoreError,
    find_seq_by_hash,
    iter_rows,
    open_readonly,
)
from core.observe.statedir import resolve

MODES = ("live", "paper", "replay")
"""Whose audit log (``{mode}`` in ``audit.path``)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``verify`` and ``export`` actions to ``parser``."""
    sub = parser.add_subparsers(dest="action", required=True, metavar="{verify,export}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db", metavar="PATH", help="audit database (default: audit.path of the config)"
    )
    common.add_argument(
        "--mode",
        choices=MODES,
        default="live",
        help="whose log, when audit.path holds {mode} (default live: the desk's own)",
    )
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config")
    sub.add_parser(
        "verify",
        parents=[common],
        help="check the hash chain; name the first bad or missing row",
        description="Check every row's hash and its link to the row before; report the "
        "first row that was edited, deleted or moved.",
    )
    ex = sub.add_parser(
        "export",
        parents=[common],
        help="write rows as CSV or JSON lines (streamed)",
        description="Write the rows (every stored column, plus ts_utc and written_utc) as CSV "
        "or JSON lines, oldest first, without loading the log into memory.",
    )
    ex.add_argument("--format", choices=FORMATS, default="jsonl", help="default jsonl")
    ex.add_argument("--since", metavar="ISO", help="first engine time kept (UTC, inclusive)")
    ex.add_argument("--until", metavar="ISO", help="engine time no longer kept (exclusive)")
    ex.add_argument(
        "--kind", action="append", default=[], metavar="K", help="only rows of kind K (repeat)"
    )
    ex.add_argument("--run", metavar="RUN_ID", help="only the rows of one run")
    ex.add_argument("--out", metavar="FILE", help="output file, created 0600 (default stdout)")


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run the chosen action; return the exit code."""
    db = Path(args.db) if args.db else resolve(settings.audit.path, args.mode)
    if not args.db and not db.exists():
        others = [m for m in MODES if m != args.mode and resolve(settings.audit.path, m).exists()]
        hint = f" (found: --mode {' or --mode '.join(others)})" if others else ""
        raise AuditStoreError(
            f"{db}: no {args.mode} audit log there yet; a paper session or a replay keeps "
            f"its own: give --mode replay|paper{hint}, or --db PATH"
        )
    if args.action == "verify":  # AuditStoreError and ExportError: bad input, exit code 2
        return _verify(db)
    return _export(db, args)


def _verify(db: Path) -> int:
    conn = open_readonly(db)
    try:
        res = verify_rows(iter_rows(conn), lambda h: find_seq_by_hash(conn, h))
    finally:
        conn.close()
    if not res.ok:
        print(f"{db}: FAILED: {res.problem}")
        print(f"rows seq 1..{res.last_seq} verified before it")
        return 1
    print(
        f"{db}: OK: {res.rows:,} rows (seq 1..{res.last_seq}), "
        f"{res.runs} run{'s' if res.runs != 1 else ''}, "
        f"head hash {res.head_hash}"
    )
    for run in res.open_runs:
        print(
            f"note: run {run} has no run_end row (it crashed, is still running, or rows were "
            "cut from the end: compare the head hash with a copy kept elsewhere)"
        )
    return 0


def _export(db: Path, args: argparse.Namespace) -> int:
    bounds: dict[str, int | None] = {}
    for name in ("since", "until"):
        text = getattr(args, name)
        try:
            bounds[name] = parse_iso_ms(text) if text else None
        except ValueError as exc:
            print(f"arbtui audit export: --{name}: {exc}", file=sys.stderr)
            return 2
    out = args.out if args.out else sys.stdout
    try:
        n = export_rows(
            db,
            out,
            args.format,
            run_id=args.run,
            since_ms=bounds["since"],
            until_ms=bounds["until"],
            kinds=args.kind,
        )
    except BrokenPipeError:  # stdout closed early (| head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        print(f"arbtui audit export: {args.out}: {exc.strerror}", file=sys.stderr)
        return 2
    if args.out:
        print(f"{n:,} rows written to {args.out}", file=sys.stderr)
    return 0
