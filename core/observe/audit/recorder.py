"""The engine's audit recorder: every record and order intent becomes one chained row.

:class:`AuditRecorder` is a :class:`core.domain.records.Recorder`. ``before_send`` waits until the
intent row is committed (paper and live; replays only with ``audit.write_ahead_in_replay``)
and raises :class:`~core.observe.audit.writer.AuditWriteError` otherwise, so the engine does not
send
the order. ``record`` queues without blocking (the hourly market samples are left to the
metrics: they are not acts of the desk). Each run writes a ``run_start`` row (mode,
who started it, where, the config file) and, when closed, a ``run_end`` row.

Row kinds and what the payload holds (JSON; Decimals as plain strings, never exponents; any
other record type is written whole under its class name, never dropped). A row's ``ts_ms``
column is the engine's time, NULL for what was said before the engine's first event gave it
a clock (never 0, which an export would show as 1970):

==============  ============================================================================
kind            payload (the record's fields, see core.domain.orders / core.domain.ledger /
core.domain.records)
==============  ============================================================================
run_start       run_id, mode, user, host, tty, ssh_client, pid, config, argv, version
order_intent    client_order_id, pair, venue, symbol, side, qty, reduce_only, purpose, ts_ms
fill            client_order_id, pair, venue, symbol, side, qty, price, fee, fee_currency,
                reduce_only, purpose, ts_ms
order_update    status, filled_qty, fill, reason, raw (the exchange's own string; both
                redacted), when the engine records a venue's update
rejection       client_order_id, venue, symbol, reason (redacted as alerts are), ts_ms
funding         venue, symbol, settlement_ts_ms, rate, mark_price, position, amount,
                currency, amount_usd
state           old, new, reason
command         name, source (user@tty (ssh client))
venue_funding   venue, symbol, settlement_ts_ms, rate, position, amount, currency, raw
position_       ts_ms, venue, symbol, ledger_qty, venue_qty, source, action (a venue held
mismatch        another size than the ledger; see core.engine.reconcile)
pair_adopted    ts_ms, pair, state (direction, opened_ts_ms, legs: qty, entry_price, anchor,
                levels_filled; a live run took over what the last run left: core.engine.restart)
pair_added      ts_ms, pair, legs (id and every instrument spec field), max_notional_usd,
                armed (false), settings (every pair setting: leg ids, cap, hedge band),
                restored (true when start-up restored it from the last run's rows): a pair
                added to the session at run time (scanner ``a``)
pair_armed      ts_ms, pair: the operator armed a pair added at run time
pair_removed    ts_ms, pair, legs (venue, symbol): a flat pair taken out of the session
                (palette ``Remove pair``); a restart does not restore it
alert, error    text (and traceback), with API keys and signatures redacted
run_end         rows: every row of this run, this one included
==============  ============================================================================
"""

from __future__ import annotations

import getpass
import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from core.domain.config import AuditSettings
from core.domain.kinds import kind_of
from core.domain.orders import OrderIntent, Rejection
from core.domain.records import AlertRaised, ErrorRaised, MarketObserved, Record
from core.domain.venue import OrderUpdate
from core.observe.audit.export import ProgressFn, export_rows
from core.observe.audit.store import PendingRow
from core.observe.audit.writer import AuditWriteError, AuditWriter
from core.observe.redaction import redact

if TYPE_CHECKING:
    from core.engine.engine import Engine


@dataclass(frozen=True, slots=True)
class RunMarker:
    """A run's first (``run_start``) or last (``run_end``) row."""

    kind: str
    ts_ms: int | None
    info: dict[str, Any]


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return format(obj, "f")
    raise TypeError(f"cannot encode {type(obj).__name__}")


def to_json(obj: Any) -> str:
    """JSON text of a record (dataclass) or dict: Decimals as plain strings."""
    return orjson.dumps(obj, default=_default).decode()


def make_encoder(run_id: str) -> Callable[[Any, int], PendingRow]:
    """The writer-thread encoder of this run's rows."""

    def encode(obj: Any, written_ts_ms: int) -> PendingRow:
        if isinstance(obj, RunMarker):
            return (run_id, obj.ts_ms, written_ts_ms, obj.kind, "", "", "", to_json(obj.info))
        kind = kind_of(obj)
        if isinstance(obj, AlertRaised):  # free text from venues and libraries: no secrets
            obj = replace(obj, text=redact(obj.text))
        elif isinstance(obj, ErrorRaised):
            obj = replace(obj, text=redact(obj.text), traceback=redact(obj.traceback))
        elif isinstance(obj, Rejection):
            obj = replace(obj, reason=redact(obj.reason))
        elif isinstance(obj, OrderUpdate):
            obj = replace(obj, reason=redact(obj.reason), raw=redact(obj.raw))
        ts_ms = getattr(obj, "ts_ms", None)
        if ts_ms is None:
            ts_ms = getattr(obj, "settlement_ts_ms", None)
        if ts_ms == 0:  # said before the engine's first event gave it a clock: no time yet
            ts_ms = None
        return (
            run_id,
            ts_ms,
            written_ts_ms,
            kind,
            getattr(obj, "venue", ""),
            getattr(obj, "symbol", ""),
            getattr(obj, "client_order_id", ""),
            to_json(obj),
        )

    return encode


def who() -> dict[str, Any]:
    """Who runs this process and from where: user, host, tty, SSH client, pid."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in a container: say so rather than fail
        user = f"uid {os.getuid()}"
    try:
        tty = os.ttyname(0)
    except OSError:
        tty = ""
    ssh = os.environ.get("SSH_CLIENT", "").split(" ")[0]
    return {
        "user": user,
        "host": socket.gethostname(),
        "tty": tty,
        "ssh_client": ssh,
        "pid": os.getpid(),
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("arbtui")
    except PackageNotFoundError:
        return "unknown"


class AuditRecorder:
    """Writes one engine run to the audit database at ``db_path`` (see the module docstring).

    ``blocking``: ``before_send`` waits for the commit of each intent (up to
    ``settings.write_ahead_timeout_s``). Build it, then :meth:`start`; :meth:`close` at the end.
    """

    def __init__(
        self,
        db_path: Path,
        run_id: str,
        settings: AuditSettings,
        *,
        blocking: bool = True,
        clock: Callable[[], int] = lambda: 0,
    ) -> None:
        self.db_path = db_path
        self.run_id = run_id
        self.blocking = blocking
        self._timeout_s = settings.write_ahead_timeout_s
        self._clock = clock
        self.submitted = 0
        """Rows this run has handed to the writer."""
        self.writer = AuditWriter(
            db_path,
            make_encoder(run_id),
            batch_ms=settings.batch_ms,
            batch_rows=settings.batch_rows,
            synchronous=settings.synchronous,
            run_id=run_id,
        )

    @classmethod
    def for_engine(cls, engine: Engine, db_path: Path, run_id: str) -> AuditRecorder:
        """A recorder for ``engine`` (blocking write-ahead unless a replay without
        ``write_ahead_in_replay``), started, its ``run_start`` row queued."""
        s = engine.settings.audit
        rec = cls(
            db_path,
            run_id,
            s,
            blocking=engine.mode != "replay" or s.write_ahead_in_replay,
            clock=lambda: engine.now,
        )
        info = {
            "run_id": run_id,
            "mode": engine.mode,
            **who(),
            "config": engine.settings.source,
            "argv": sys.argv,
            "version": _version(),
            "write_ahead": "blocking" if rec.blocking else "batched",
        }
        rec.start(info)
        return rec

    def start(self, info: dict[str, Any]) -> None:
        """Open the database and queue the ``run_start`` row. Raises AuditWriteError."""
        self.writer.start()
        self._submit(RunMarker("run_start", self._clock() or None, info))

    def _submit(self, obj: Any) -> None:
        self.submitted += 1
        self.writer.submit(obj)

    def before_send(self, intent: OrderIntent) -> None:
        """Write the intent ahead of the order (see the class docstring)."""
        if self.blocking:
            if self.writer.error is not None:  # failing now: refuse at once, never wait
                raise AuditWriteError(f"{self.db_path}: {self.writer.error}")
            self.submitted += 1
            self.writer.submit_durable(intent, self._timeout_s)
        elif self.writer.error is not None:
            raise AuditWriteError(f"{self.db_path}: {self.writer.error}")
        else:
            self._submit(intent)

    def write_failure(self) -> str | None:
        """Why the log cannot write now (the last commit failed, or the writer is not
        running), naming the file; None when it can. Never blocks."""
        w = self.writer
        if w.error is not None:
            return f"{self.db_path}: {w.error}"
        if not w.running:
            return f"{self.db_path}: the audit writer is not running"
        return None

    def record(self, rec: Record) -> None:
        """Queue one record (never blocks). Market samples are left to the metrics. An order
        intent that comes here (an order that can only reduce exposure, sent without waiting
        for the write-ahead) is written with the next batch, or as soon as the log can."""
        if not isinstance(rec, MarketObserved):
            self.submitted += 1
            self.writer.submit(rec)

    def flush(self, timeout_s: float = 2.0) -> int:
        """Wait until everything recorded so far is committed."""
        return self.writer.flush(timeout_s)

    def close(self) -> None:
        """Queue ``run_end``, commit everything and close (within about 1.5 s)."""
        info = {"rows": self.submitted + 1}
        self._submit(RunMarker("run_end", self._clock() or None, info))
        self.writer.close()

    def export_session(self, out_path: Path, fmt: str, progress: ProgressFn | None = None) -> int:
        """Write this run's rows so far to ``out_path`` (``csv`` or ``jsonl``); call
        ``progress(done, total)`` as it goes; return the rows written. Safe to call from any
        thread while the run goes on (it reads through its own read-only connection)."""
        self.flush()
        return export_rows(self.db_path, out_path, fmt, run_id=self.run_id, progress=progress)
