"""How far the backtesting.py path and the engine agree on one replay.

Trades: the round trips' entry, add and exit instants of the engine (its ledger) and of
:class:`~core.analysis.backtest.bt_strategy.CarryStrategy` (its decisions) must be the same
instants.

PnL is compared in one convention. The engine's report books an inverse leg's unrealised XBT
PnL at the *current* XBT price, so while a pair is open its basis also moves with the price of
the XBT it has accrued (on March 2020 about +1,770 USD on the engine's 690 USD basis). The
carry series counts each leg's PnL in USD as it accrues (a unit is 1 USD of notional per leg).
:func:`accrued_basis_usd` replays the engine's own fills against every price of the replay in
that convention, so both sides are compared like for like; what remains is what the carry
series does not model: the hedger's trades and band, the lot rounding of the second leg, and
the linear leg's notional drifting with the basis between rebalances.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.analysis.backtest.runner import BacktestRun
from core.analysis.backtest.stats import round_trips
from core.domain.events import Bar, Event, Quote
from core.domain.ledger import Key


@dataclass(frozen=True, slots=True)
class PnlSplit:
    """basis + funding + fees = total, USD (fees negative)."""

    basis_usd: float
    funding_usd: float
    fees_usd: float

    @property
    def total_usd(self) -> float:
        """basis + funding + fees."""
        return self.basis_usd + self.funding_usd + self.fees_usd


@dataclass(frozen=True, slots=True)
class Agreement:
    """Round trips as (entry, (adds...), exit) in UTC ms, and the PnL split of both paths."""

    engine_trips: list[tuple[int, tuple[int, ...], int | None]]
    bt_trips: list[tuple[int, tuple[int, ...], int | None]]
    engine_reported: PnlSplit
    engine_accrued: PnlSplit
    bt: PnlSplit

    @property
    def same_trades(self) -> bool:
        """Entries, adds and exits at the same instants."""
        return self.engine_trips == self.bt_trips

    @property
    def total_gap_usd(self) -> float:
        """carry series total - engine total (both as accrued)."""
        return self.bt.total_usd - self.engine_accrued.total_usd


def accrued_basis_usd(run: BacktestRun, events: Iterable[Event]) -> float:
    """The engine's basis PnL with every leg's PnL converted to USD as it accrues: for each
    price of the replay, position x the price move (inverse: contracts x size x (1/old -
    1/new) XBT at the new price); a fill adds its own move from the fill price to the mark."""
    specs = run.engine.specs
    fills = sorted(run.engine.ledger.trades, key=lambda t: t.fill.ts_ms)
    pos: dict[Key, float] = {k: 0.0 for k in specs}
    mark: dict[Key, float] = {}
    total = 0.0
    nxt = 0

    def move(key: Key, qty: float, old: float, new: float) -> float:
        spec = specs[key]
        size = float(spec.contract_size)
        if spec.kind == "inverse":
            return qty * size * (1 / old - 1 / new) * new
        return qty * size * (new - old)

    def book_fills(up_to_ts: int) -> None:
        nonlocal nxt, total
        while nxt < len(fills) and fills[nxt].fill.ts_ms <= up_to_ts:
            f = fills[nxt].fill
            key = (f.venue, f.symbol)
            q = float(f.qty if f.side == "buy" else -f.qty)
            total += move(key, q, float(f.price), mark[key])
            pos[key] += q
            nxt += 1

    last_ts = None
    for ev in events:
        if last_ts is not None and ev.ts_ms != last_ts:
            book_fills(last_ts)
        last_ts = ev.ts_ms
        key = (ev.venue, ev.symbol)
        if key not in pos:
            continue
        px = ev.close if isinstance(ev, Bar) else ev.mark if isinstance(ev, Quote) else None
        if px is None:
            continue
        if key in mark and pos[key]:
            total += move(key, pos[key], mark[key], px)
        mark[key] = px
    if last_ts is not None:
        book_fills(last_ts)
    return total


def bt_split(stats: Any, frame: Any) -> PnlSplit:
    """The carry backtest's PnL split: funding = each trade's units x the settled rates of
    the rows it was open for (after its entry row, up to its exit row); fees = commissions;
    basis = the rest."""
    trades = stats["_trades"]
    fund = frame["carry_funding"].cumsum()
    funding = fees = pnl = 0.0
    for _, t in trades.iterrows():
        funding += float(t["Size"]) * float(fund.loc[t["ExitTime"]] - fund.loc[t["EntryTime"]])
        fees -= float(t["Commission"])
        pnl += float(t["PnL"])
    return PnlSplit(pnl - funding - fees, funding, fees)


def compare(
    run: BacktestRun, events: list[Event], stats: Any, strategy: Any, frame: Any
) -> Agreement:
    """Compare a finished engine run with a finished carry backtest of the same replay
    (``strategy`` is ``stats["_strategy"]``: its decisions give the bt round trips)."""
    eng = [(t.entry_ts_ms, t.add_ts_ms, t.exit_ts_ms) for t in round_trips(run)]
    bt: list[tuple[int, tuple[int, ...], int | None]] = []
    adds: list[int] = []
    for kind, when in strategy.decisions:
        ms = round(when.timestamp() * 1000)  # a pandas Timestamp (UTC)
        if kind == "entry":
            bt.append((ms, (), None))
            adds = []
        elif kind == "add":
            adds.append(ms)
            bt[-1] = (bt[-1][0], tuple(adds), None)
        else:
            bt[-1] = (bt[-1][0], bt[-1][1], ms)
    rep = run.report["pnl_usd"]
    reported = PnlSplit(float(rep["basis"]), float(rep["funding"]), float(rep["fees"]))
    accrued = PnlSplit(accrued_basis_usd(run, events), reported.funding_usd, reported.fees_usd)
    return Agreement(eng, bt, reported, accrued, bt_split(stats, frame))
