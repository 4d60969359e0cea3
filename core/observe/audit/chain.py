"""The audit log's hash chain: what a row's hash covers, and how a chain is checked.

A row's hash is ``sha256(prev_hash + "|" + canonical(row))`` in lower-case hex, where
``prev_hash`` is the previous row's hash (:data:`GENESIS`, 64 zeros, for the first row) and
``canonical(row)`` is the UTF-8 netstring-style encoding of, in this order: run_id, ts_ms,
written_ts_ms, kind, venue, symbol, client_order_id, payload. Each field is written as
``<byte length>:<bytes>,`` (integers in decimal; a NULL ``ts_ms`` as ``~,``), so no two rows
encode alike. ``seq`` is not hashed: it is the row's locator; the order of rows is fixed by
the chain itself, and ``seq`` values must run 1, 2, 3, ... without gaps.

:func:`verify_rows` walks rows in ``seq`` order and names the first problem: a missing row
(a gap in ``seq``), an edited row (its content no longer matches its hash), a row out of
order (it chains to a row other than the one before it), or a broken link.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

GENESIS = "0" * 64
"""``prev_hash`` of the first row."""

COLUMNS = (
    "seq",
    "run_id",
    "ts_ms",
    "written_ts_ms",
    "kind",
    "venue",
    "symbol",
    "client_order_id",
    "payload",
    "prev_hash",
    "hash",
)
"""Stored columns, in table and export order."""


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One stored row. ``ts_ms`` is engine time (event time in replay; None for rows the
    engine did not time, such as a run's start), ``written_ts_ms`` the wall clock when the
    row was written, both UTC ms. ``payload`` is JSON text (Decimals as strings)."""

    seq: int
    run_id: str
    ts_ms: int | None
    written_ts_ms: int
    kind: str
    venue: str
    symbol: str
    client_order_id: str
    payload: str
    prev_hash: str
    hash: str


def row_hash(
    prev_hash: str,
    run_id: str,
    ts_ms: int | None,
    written_ts_ms: int,
    kind: str,
    venue: str,
    symbol: str,
    client_order_id: str,
    payload: str,
) -> str:
    """The hash of one row given the previous row's hash (see the module docstring)."""
    a, k, v, s, c, p = (
        x.encode("utf-8") for x in (run_id, kind, venue, symbol, client_order_id, payload)
    )
    t = b"~," if ts_ms is None else b"%d:%d," % (len(str(ts_ms)), ts_ms)
    data = b"%b|%d:%b,%b%d:%d,%d:%b,%d:%b,%d:%b,%d:%b,%d:%b," % (
        prev_hash.encode("ascii"),
        len(a),
        a,
        t,
        len(str(written_ts_ms)),
        written_ts_ms,
        len(k),
        k,
        len(v),
        v,
        len(s),
        s,
        len(c),
        c,
        len(p),
        p,
    )
    return hashlib.sha256(data).hexdigest()


def content_hash(row: AuditRow) -> str:
    """What ``row.hash`` must be given ``row.prev_hash`` and the row's content."""
    return row_hash(
        row.prev_hash,
        row.run_id,
        row.ts_ms,
        row.written_ts_ms,
        row.kind,
        row.venue,
        row.symbol,
        row.client_order_id,
        row.payload,
    )


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of :func:`verify_rows`. ``ok`` with ``problem`` None, else ``bad_seq`` names
    the first bad or missing row and ``problem`` says what is wrong with it. ``rows`` counts
    the rows read up to the problem (all rows when ok); ``head_hash`` is the last good hash.
    ``open_runs`` name runs whose start row has no end row (a crash, a run still writing, or
    rows cut from the end of the log: only an outside record of the head hash tells which)."""

    ok: bool
    rows: int
    last_seq: int
    head_hash: str
    runs: int
    problem: str | None = None
    bad_seq: int | None = None
    open_runs: tuple[str, ...] = ()


def verify_rows(
    rows: Iterable[AuditRow],
    find_seq_by_hash: Callable[[str], int | None] | None = None,
) -> VerifyResult:
    """Check a whole chain, streaming (one row in memory at a time).

    ``rows`` must come in ``seq`` order starting at the first row written. When a row chains
    to the wrong predecessor, ``find_seq_by_hash`` (if given) looks up which row now holds
    that hash, to tell a reordering from a removal.
    """
    expected_seq = 1
    prev = GENESIS
    n = runs = 0
    open_runs: dict[str, None] = {}
    for row in rows:
        problem = None
        if row.seq != expected_seq:
            if row.seq > expected_seq:
                missing = (
                    f"row seq {expected_seq} is missing"
                    if row.seq == expected_seq + 1
                    else f"rows seq {expected_seq}..{row.seq - 1} are missing"
                )
                problem = f"{missing} (deleted): the next row present is seq {row.seq}"
            else:
                problem = f"row seq {row.seq} appears again after seq {expected_seq - 1}"
            return VerifyResult(False, n, expected_seq - 1, prev, runs, problem, expected_seq)
        if content_hash(row) != row.hash:
            problem = f"row seq {row.seq} was edited: its content does not match its hash"
        elif row.prev_hash != prev:
            where = find_seq_by_hash(row.prev_hash) if find_seq_by_hash else None
            if where is not None and where != row.seq - 1:
                problem = (
                    f"row seq {row.seq} is out of order: it was written right after the row "
                    f"now at seq {where} (rows reordered)"
                )
            else:
                problem = (
                    f"row seq {row.seq} does not follow row seq {row.seq - 1}: the row written "
                    "before it was removed or replaced"
                )
        if problem is not None:
            return VerifyResult(False, n, row.seq - 1, prev, runs, problem, row.seq)
        if row.kind == "run_start":
            runs += 1
            open_runs[row.run_id] = None
        elif row.kind == "run_end":
            open_runs.pop(row.run_id, None)
        prev = row.hash
        expected_seq += 1
        n += 1
    return VerifyResult(True, n, expected_seq - 1, prev, runs, open_runs=tuple(open_runs))
