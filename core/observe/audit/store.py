"""The audit database: schema, the chained insert, and streaming reads.

One table, ``audit``, append-only (triggers refuse UPDATE and DELETE; the hash chain catches
whoever drops them). ``seq`` is AUTOINCREMENT, so a number is never reused, even after the
last row is deleted. Every write reads the last row's hash inside its own write transaction
(``BEGIN IMMEDIATE``, or one statement, which SQLite runs as one write transaction), so the
chain stays whole even if two writers (two processes) share one file: a batch reads
:data:`TAIL_SQL` and inserts rows hashed in Python with :data:`INSERT_SQL`; a single row goes
in one statement, :data:`INSERT_CHAINED_SQL`, whose ``arbtui_chain`` SQL function (registered
by :func:`register_chain`) is the same :func:`core.observe.audit.chain.row_hash`.

Readers (verify, export) open the file read-only with the standard ``sqlite3`` module and
iterate a cursor, so a large log is never loaded whole.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.domain.errors import BadInput
from core.observe.audit.chain import COLUMNS, GENESIS, AuditRow, row_hash

SCHEMA_VERSION = 1

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    ts_ms INTEGER,
    written_ts_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    venue TEXT NOT NULL,
    symbol TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_run ON audit (run_id);
CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts_ms);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;
PRAGMA user_version = {SCHEMA_VERSION};
"""

TAIL_SQL = "SELECT hash FROM audit ORDER BY seq DESC LIMIT 1"

INSERT_SQL = """
INSERT INTO audit (run_id, ts_ms, written_ts_ms, kind, venue, symbol, client_order_id,
                   payload, prev_hash, hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
"""Parameters: a :data:`PendingRow`, then prev_hash and hash."""

INSERT_CHAINED_SQL = f"""
INSERT INTO audit (run_id, ts_ms, written_ts_ms, kind, venue, symbol, client_order_id,
                   payload, prev_hash, hash)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, p.h, arbtui_chain(p.h, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
FROM (SELECT coalesce((SELECT hash FROM audit ORDER BY seq DESC LIMIT 1), '{GENESIS}') AS h) p
"""
"""Parameters: run_id, ts_ms, written_ts_ms, kind, venue, symbol, client_order_id, payload."""

PendingRow = tuple[str, int | None, int, str, str, str, str, str]
"""The parameters of :data:`INSERT_CHAINED_SQL`."""

CHAIN_FUNCTION = ("arbtui_chain", 9, row_hash)
"""Name, arity and implementation of the SQL function the insert uses."""


def register_chain(conn: sqlite3.Connection) -> None:
    """Register ``arbtui_chain`` on a plain sqlite3 connection (the writer registers it
    through aiosqlite)."""
    name, n, fn = CHAIN_FUNCTION
    conn.create_function(name, n, fn, deterministic=True)


class AuditStoreError(BadInput):
    """The audit database is missing or is not an arbtui audit log."""


def open_readonly(db_path: str | Path) -> sqlite3.Connection:
    """Open ``db_path`` read-only. Raises :class:`AuditStoreError` naming the file."""
    path = Path(db_path)
    if not path.is_file():
        raise AuditStoreError(f"{path}: no audit database there")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.execute("SELECT seq FROM audit LIMIT 1").fetchall()
    except sqlite3.Error as exc:
        raise AuditStoreError(f"{path}: not an arbtui audit database ({exc})") from None
    return conn


@dataclass(frozen=True, slots=True)
class RowFilter:
    """Which rows to read: ``since_ms`` <= ts_ms < ``until_ms`` (engine time; rows without
    ``ts_ms`` are left out when either bound is set), ``kinds`` and ``run_id`` exact."""

    since_ms: int | None = None
    until_ms: int | None = None
    kinds: Sequence[str] = ()
    run_id: str | None = None

    def where(self) -> tuple[str, list[object]]:
        """SQL WHERE clause (possibly empty) and its parameters."""
        parts: list[str] = []
        args: list[object] = []
        if self.since_ms is not None:
            parts.append("ts_ms >= ?")
            args.append(self.since_ms)
        if self.until_ms is not None:
            parts.append("ts_ms < ?")
            args.append(self.until_ms)
        if self.kinds:
            parts.append(f"kind IN ({','.join('?' * len(self.kinds))})")
            args.extend(self.kinds)
        if self.run_id is not None:
            parts.append("run_id = ?")
            args.append(self.run_id)
        return (" WHERE " + " AND ".join(parts) if parts else ""), args


def count_rows(conn: sqlite3.Connection, flt: RowFilter = RowFilter()) -> int:
    """How many rows match ``flt``."""
    where, args = flt.where()
    (n,) = conn.execute(f"SELECT count(*) FROM audit{where}", args).fetchone()
    return int(n)


def iter_rows(
    conn: sqlite3.Connection, flt: RowFilter = RowFilter(), chunk: int = 1000
) -> Iterator[AuditRow]:
    """Rows matching ``flt`` in ``seq`` order, read ``chunk`` at a time."""
    where, args = flt.where()
    cur = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM audit{where} ORDER BY seq", args)
    while True:
        batch = cur.fetchmany(chunk)
        if not batch:
            return
        for r in batch:
            yield AuditRow(*r)


def find_seq_by_hash(conn: sqlite3.Connection, hash_hex: str) -> int | None:
    """The ``seq`` of the row whose hash is ``hash_hex`` (a full scan; used only to explain
    a broken chain)."""
    got = conn.execute("SELECT seq FROM audit WHERE hash = ? LIMIT 1", (hash_hex,)).fetchone()
    return None if got is None else int(got[0])
