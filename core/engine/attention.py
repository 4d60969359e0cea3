"""What needs the operator now: the alarms of the console's banner.

:class:`Attention` is a recorder (it hears every record of the engine, never blocks, sends
nothing) that remembers why the trading state last changed and the last position mismatch
(until the operator arms again after review). :meth:`Attention.alarms` turns that, the
engine's state, its audit log's health, the feeds and a replay's failure into
:class:`~core.domain.snapshot.Alarm` values, most urgent first. Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.domain.orders import OrderIntent
from core.domain.records import (
    CommandReceived,
    PositionMismatch,
    Record,
    StateChanged,
    WriteAheadLog,
)
from core.domain.risk import TradingState
from core.domain.snapshot import Alarm, FeedView

if TYPE_CHECKING:
    from core.engine.engine import Engine

NOT_REACHED = frozenset({"connecting", "down"})
"""Feed states of a stream that is not connected (as opposed to ``stale``: connected but
silent)."""


class Attention:
    """Recorder of the facts behind the banner; attach to ``engine.recorders``."""

    def __init__(self) -> None:
        self.state_reason = ""
        """Why the trading state last changed (``"kill switch"``, ``"drawdown stop-out"``)."""
        self.mismatch: PositionMismatch | None = None
        """The last position mismatch, until the operator arms again."""

    def before_send(self, intent: OrderIntent) -> None:
        """Nothing to make durable."""

    def record(self, rec: Record) -> None:
        """Remember state changes and mismatches; an operator's Arm clears the mismatch."""
        if isinstance(rec, StateChanged):
            self.state_reason = rec.reason
        elif isinstance(rec, PositionMismatch):
            self.mismatch = rec
        elif isinstance(rec, CommandReceived) and rec.name == "Arm":
            self.mismatch = None

    def alarms(
        self, engine: Engine, feeds: tuple[FeedView, ...] = (), failed: str = ""
    ) -> tuple[Alarm, ...]:
        """The alarms now: a replay that failed, HALTED and why, an audit log that cannot
        write, a position mismatch, venues not reached yet, stale market data."""
        out: list[Alarm] = []
        if failed:
            out.append(Alarm("replay", f"{failed}; the engine is stopped (HALTED)"))
        elif engine.restart_review is not None:
            out.append(
                Alarm(
                    "halted",
                    "restart review: the venues hold what the last run did not leave (see the "
                    "log); answer in the palette (ctrl+p): adopt, flatten or leave",
                )
            )
        elif engine.restart_left:
            out.append(
                Alarm("halted", "positions left as found at restart: nothing trades this session")
            )
        elif engine.state is TradingState.HALTED:
            why = self.state_reason or "halted"
            out.append(Alarm("halted", f"{why}; nothing is sent until you re-arm (a)"))
        for rec in engine.recorders:
            failure = rec.write_failure() if isinstance(rec, WriteAheadLog) else None
            if failure:
                out.append(Alarm("audit", f"audit log cannot write ({failure}): entries refused"))
        m = self.mismatch
        if m is not None:
            out.append(
                Alarm(
                    "mismatch",
                    f"position mismatch {m.venue} {m.symbol}: venue {m.venue_qty}, ledger "
                    f"{m.ledger_qty} ({m.source}); policy {m.action}; arm (a) once reviewed",
                )
            )
        reached: set[str] = set()
        waiting: dict[str, FeedView] = {}
        for f in feeds:
            if f.stream == "private":
                if f.state != "live":
                    note = f": {f.note}" if f.note else ""
                    out.append(
                        Alarm(
                            "stale",
                            f"{f.venue} order stream {f.state}{note}; orders and positions "
                            "are checked by REST meanwhile",
                        )
                    )
                continue
            if f.state in NOT_REACHED:
                waiting.setdefault(f.venue, f)
            else:
                reached.add(f.venue)
        for venue, f in waiting.items():
            if venue in reached and f.state == "connecting":
                continue  # another stream of the venue is through: this one follows
            note = f" ({f.note})" if f.note else ""
            out.append(Alarm("connecting", f"connecting to {venue}{note}"))
        for venue in sorted(engine.stale_venues - set(waiting)):
            silent = [
                f"{f.stream} silent {f.stale_for_ms // 1000} s"
                for f in feeds
                if f.venue == venue and f.state == "stale"
            ]
            why = f" ({', '.join(silent)})" if silent else ""
            out.append(Alarm("stale", f"{venue} market data stale{why}: no entries or adds"))
        for (venue, symbol), why in sorted(engine.not_trading.items()):
            out.append(
                Alarm("stale", f"{venue} {symbol} not trading at the venue ({why}): no entries")
            )
        return tuple(out)
