"""The standard statistics of a backtest run.

Definitions (all money in USD; "equity" is the strategy equity of
:mod:`core.analysis.backtest.runner`
unless named ``account_``):

- ``return_pct`` = end / start - 1; ``annual_return_pct`` = (end / start) ^ (365 / days) - 1
  over the run's window (first equity reading to last event).
- ``sharpe`` and ``sortino``: mean daily return (UTC days, last hourly value of each day) over
  its standard deviation (sample, n - 1), resp. over the downside deviation
  sqrt(sum(min(r, 0)^2) / n), times sqrt(365) (crypto trades every day); risk-free 0. None with
  fewer than two daily returns or a zero deviation.
- ``max_drawdown_pct``: largest fall from a running peak, % of that peak, on the hourly curve;
  ``max_drawdown_duration_h``: longest time from a peak until equity is back at it (or the
  end of the run), hours. ``account_max_drawdown_pct`` is the engine's own monitor, which sees
  every event and the XBT collateral at its mark (the figure the drawdown stop acts on).
- A round trip is one pair going from flat to open and back to flat: its PnL is the realised
  basis of its fills + the funding paid or received while it was open - its fees (unrealised
  at the last mark if it is still open at the end). ``win_rate_pct`` counts closed round trips
  with PnL > 0. ``exposure_pct`` is the share of the window with any round trip open.
- Per venue: basis (realised + unrealised at the end), funding received and paid, and fees.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.analysis.backtest.runner import BacktestRun, CurvePoint
from core.domain.config import Settings
from core.domain.contracts import is_coin
from core.domain.equity import (
    DAY_MS,
    daily_returns,
    max_drawdown,
    sharpe_ratio,
    sortino_ratio,
)
from core.domain.ledger import Key
from core.domain.market import mark_decimal


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One pair from flat to open and back. ``direction`` +1 = short leg a / long leg b."""

    pair: str
    direction: int
    entry_ts_ms: int
    exit_ts_ms: int | None
    """None: still open at the end of the run."""
    add_ts_ms: tuple[int, ...]
    """Times of the ladder adds (fills with purpose ``ladder``)."""
    fills: int
    basis_usd: float
    funding_usd: float
    fees_usd: float
    """Negative (a cost)."""

    @property
    def pnl_usd(self) -> float:
        """basis + funding + fees."""
        return self.basis_usd + self.funding_usd + self.fees_usd


@dataclass(frozen=True, slots=True)
class VenueSplit:
    """PnL of one venue, USD. ``fees_usd`` and ``funding_paid_usd`` are negative."""

    venue: str
    basis_usd: float
    funding_received_usd: float
    funding_paid_usd: float
    fees_usd: float

    @property
    def total_usd(self) -> float:
        """basis + funding received + funding paid + fees."""
        return self.basis_usd + self.funding_received_usd + self.funding_paid_usd + self.fees_usd


@dataclass(frozen=True, slots=True)
class CurveStats:
    """Return, risk-adjusted return and drawdown of one equity curve."""

    return_pct: float | None
    annual_return_pct: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown_pct: float
    max_drawdown_duration_h: float


@dataclass(frozen=True)
class BacktestStats:
    """Everything ``arbtui backtest`` reports; :meth:`row` flattens the numbers."""

    start_ts_ms: int
    end_ts_ms: int
    equity_start_usd: float
    equity_end_usd: float
    curve: CurveStats
    account_equity_start_usd: float
    account_equity_end_usd: float
    account_max_drawdown_pct: float
    round_trips: tuple[RoundTrip, ...]
    exposure_pct: float
    basis_usd: float
    funding_usd: float
    fees_usd: float
    per_venue: tuple[VenueSplit, ...]
    fills: int
    fills_by_purpose: dict[str, int] = field(default_factory=dict)
    events: int = 0
    wall_s: float = 0.0
    final_trading_state: str = ""

    @property
    def duration_days(self) -> float:
        """Length of the window in days."""
        return (self.end_ts_ms - self.start_ts_ms) / DAY_MS

    @property
    def total_pnl_usd(self) -> float:
        """basis + funding + fees."""
        return self.basis_usd + self.funding_usd + self.fees_usd

    @property
    def closed(self) -> list[RoundTrip]:
        """Round trips that ended within the run."""
        return [t for t in self.round_trips if t.exit_ts_ms is not None]

    @property
    def win_rate_pct(self) -> float | None:
        """Closed round trips with PnL > 0, % (None without any)."""
        closed = self.closed
        if not closed:
            return None
        return 100.0 * sum(1 for t in closed if t.pnl_usd > 0) / len(closed)

    def row(self) -> dict[str, float | int | None]:
        """Flat numeric metrics (the optimiser's objectives and CSV columns)."""
        c = self.curve
        acc = self.account_equity_start_usd
        out: dict[str, float | int | None] = {
            "total_pnl_usd": self.total_pnl_usd,
            "return_pct": c.return_pct,
            "annual_return_pct": c.annual_return_pct,
            "sharpe": c.sharpe,
            "sortino": c.sortino,
            "max_drawdown_pct": c.max_drawdown_pct,
            "max_drawdown_duration_h": c.max_drawdown_duration_h,
            "round_trips": len(self.closed),
            "open_round_trips": len(self.round_trips) - len(self.closed),
            "win_rate_pct": self.win_rate_pct,
            "exposure_pct": self.exposure_pct,
            "basis_usd": self.basis_usd,
            "funding_usd": self.funding_usd,
            "fees_usd": self.fees_usd,
            "fills": self.fills,
            "account_return_pct": (self.account_equity_end_usd / acc - 1) * 100 if acc else None,
            "account_max_drawdown_pct": self.account_max_drawdown_pct,
        }
        for v in self.per_venue:
            out[f"{v.venue}_basis_usd"] = v.basis_usd
            out[f"{v.venue}_funding_usd"] = v.funding_received_usd + v.funding_paid_usd
            out[f"{v.venue}_fees_usd"] = v.fees_usd
        return out


#: Aliases accepted wherever a metric is named (``--objective total_pnl``).
ALIASES = {"total_pnl": "total_pnl_usd", "pnl": "total_pnl_usd", "drawdown": "max_drawdown_pct"}

#: Metrics where lower is better (the optimiser minimises them unless told otherwise).
LOWER_IS_BETTER = frozenset(
    {"max_drawdown_pct", "max_drawdown_duration_h", "account_max_drawdown_pct", "fills"}
)


#: The metrics of :meth:`BacktestStats.row` besides the per-venue ones.
METRICS = (
    "total_pnl_usd", "return_pct", "annual_return_pct", "sharpe", "sortino", "max_drawdown_pct",
    "max_drawdown_duration_h", "round_trips", "open_round_trips", "win_rate_pct", "exposure_pct",
    "basis_usd", "funding_usd", "fees_usd", "fills", "account_return_pct",
    "account_max_drawdown_pct",
)  # fmt: skip


def metric_names(settings: Settings) -> list[str]:
    """Every metric a run of ``settings`` reports (:data:`METRICS`, then per venue)."""
    venues = sorted({s.venue for s in settings.instruments.values()})
    per = [f"{v}_{what}_usd" for v in venues for what in ("basis", "funding", "fees")]
    return [*METRICS, *per]


def metric_name(name: str, settings: Settings | None = None) -> str:
    """The metric key for ``name`` (resolving :data:`ALIASES`); with ``settings``, raises
    ValueError naming the choices when there is no such metric."""
    key = ALIASES.get(name, name)
    if settings is not None and key not in metric_names(settings):
        choices = ", ".join([*metric_names(settings), *ALIASES])
        raise ValueError(f"unknown metric {name!r}; choose from: {choices}")
    return key


# ------------------------------------------------------------------------ curves
def curve_stats(points: list[tuple[int, float]], end_ts_ms: int | None = None) -> CurveStats:
    """:class:`CurveStats` of (ts_ms, equity) points (see the module docstring)."""
    if not points:
        return CurveStats(None, None, None, None, 0.0, 0.0)
    start_ts, first = points[0]
    end_ts = max(end_ts_ms or points[-1][0], points[-1][0])
    last = points[-1][1]
    ret = ann = None
    if first > 0:
        ret = (last / first - 1) * 100
        days = (end_ts - start_ts) / DAY_MS
        if days > 0 and last > 0:
            ann = ((last / first) ** (365 / days) - 1) * 100
    rets = daily_returns(points)
    sharpe, sortino = sharpe_ratio(rets), sortino_ratio(rets)
    dd, dd_h = max_drawdown(points)
    return CurveStats(ret, ann, sharpe, sortino, dd, dd_h)


# ------------------------------------------------------------------- round trips
def round_trips(run: BacktestRun) -> list[RoundTrip]:
    """The round trips of every pair, in entry order (see the module docstring)."""
    eng = run.engine
    legs: dict[str, tuple[Key, Key]] = {}
    for p in run.settings.pairs:
        a, b = run.settings.instruments[p.leg_a], run.settings.instruments[p.leg_b]
        legs[p.name] = ((a.venue, a.symbol), (b.venue, b.symbol))
    held: dict[str, dict[Key, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    open_: dict[str, dict[str, Any]] = {}
    done: list[dict[str, Any]] = []
    for t in eng.ledger.trades:
        f = t.fill
        key = (f.venue, f.symbol)
        pair = f.pair if f.pair in legs else next((n for n, ks in legs.items() if key in ks), "")
        if not pair:
            continue
        pos = held[pair]
        if pair not in open_:
            leg_a = legs[pair][0]
            sell = f.side == "sell"
            direction = (1 if sell else -1) if key == leg_a else (-1 if sell else 1)
            open_[pair] = {
                "pair": pair, "direction": direction, "entry": f.ts_ms, "adds": [], "fills": 0,
                "basis": 0.0, "fees": 0.0, "funding": 0.0, "exit": None,
            }  # fmt: skip
        rt = open_[pair]
        rt["fills"] += 1
        rt["basis"] += float(t.realised_usd)
        rt["fees"] -= float(t.fee_usd)
        if f.purpose == "ladder":
            rt["adds"].append(f.ts_ms)
        pos[key] += f.qty if f.side == "buy" else -f.qty
        if all(q == 0 for q in pos.values()):
            rt["exit"] = f.ts_ms
            done.append(open_.pop(pair))
    still_open = list(open_.values())
    for rt in still_open:  # unrealised at the last marks
        for key in legs[rt["pair"]]:
            pos_ = eng.ledger.positions.get(key)
            st = eng.market.instruments.get(key)
            if pos_ is None or pos_.qty == 0 or st is None or st.mark is None:
                continue
            upnl = pos_.unrealised(mark_decimal(st))
            xbt = Decimal(repr(eng.coin_usd())) if is_coin(pos_.spec.settle_currency) else 1
            rt["basis"] += float(upnl * xbt)
    trips = sorted(done + still_open, key=lambda r: r["entry"])
    for pay in eng.ledger.funding_payments:
        key = (pay.venue, pay.symbol)
        for rt in reversed(trips):
            if (
                key in legs[rt["pair"]]
                and rt["entry"] <= pay.settlement_ts_ms
                and (rt["exit"] is None or pay.settlement_ts_ms <= rt["exit"])
            ):
                rt["funding"] += float(pay.amount_usd)
                break
    return [
        RoundTrip(
            r["pair"],
            r["direction"],
            r["entry"],
            r["exit"],
            tuple(r["adds"]),
            r["fills"],
            r["basis"],
            r["funding"],
            r["fees"],
        )
        for r in trips
    ]


def exposure_pct(trips: list[RoundTrip], start_ts_ms: int, end_ts_ms: int) -> float:
    """Share of [start, end] with at least one round trip open, %."""
    span = end_ts_ms - start_ts_ms
    if span <= 0:
        return 0.0
    spans = sorted((t.entry_ts_ms, t.exit_ts_ms if t.exit_ts_ms is not None else end_ts_ms)
                   for t in trips)  # fmt: skip
    covered = 0
    cur_a = cur_b = None
    for a, b in spans:
        a, b = max(a, start_ts_ms), min(b, end_ts_ms)
        if cur_b is None or a > cur_b:
            if cur_a is not None and cur_b is not None:
                covered += cur_b - cur_a
            cur_a, cur_b = a, b
        else:
            cur_b = max(cur_b, b)
    if cur_a is not None and cur_b is not None:
        covered += cur_b - cur_a
    return 100.0 * covered / span


# ---------------------------------------------------------------------- venues
def per_venue(run: BacktestRun) -> list[VenueSplit]:
    """Basis, funding and fees per venue (USD), venues in name order."""
    eng = run.engine
    basis: dict[str, float] = defaultdict(float)
    got: dict[str, float] = defaultdict(float)
    paid: dict[str, float] = defaultdict(float)
    fees: dict[str, float] = defaultdict(float)
    for t in eng.ledger.trades:
        basis[t.fill.venue] += float(t.realised_usd)
        fees[t.fill.venue] -= float(t.fee_usd)
    xbt = Decimal(repr(eng.coin_usd()))
    for (venue, _), pos in eng.ledger.positions.items():
        st = eng.market.instruments.get((venue, pos.spec.symbol))
        if pos.qty != 0 and st is not None and st.mark is not None:
            upnl = pos.unrealised(mark_decimal(st))
            basis[venue] += float(upnl * xbt if is_coin(pos.spec.settle_currency) else upnl)
    for p in eng.ledger.funding_payments:
        (got if p.amount_usd >= 0 else paid)[p.venue] += float(p.amount_usd)
    venues = sorted({s.venue for s in run.settings.instruments.values()} | set(basis) | set(got))
    return [VenueSplit(v, basis[v], got[v], paid[v], fees[v]) for v in venues]


# ------------------------------------------------------------------------- all
def compute_stats(run: BacktestRun) -> BacktestStats:
    """The statistics of a finished run."""
    rep = run.report
    curve: list[CurvePoint] = run.curve
    start = curve[0][0] if curve else int(rep.get("first_ts_ms") or 0)
    end = max(int(rep.get("last_ts_ms") or start), curve[-1][0] if curve else start)
    strat = [(ts, s) for ts, s, _ in curve]
    trips = round_trips(run)
    pnl = rep["pnl_usd"]
    return BacktestStats(
        start_ts_ms=start,
        end_ts_ms=end,
        equity_start_usd=strat[0][1] if strat else 0.0,
        equity_end_usd=strat[-1][1] if strat else 0.0,
        curve=curve_stats(strat, end),
        account_equity_start_usd=float(rep["equity_start_usd"] or 0.0),
        account_equity_end_usd=float(rep["equity_end_usd"] or 0.0),
        account_max_drawdown_pct=float(rep["max_drawdown_pct"]),
        round_trips=tuple(trips),
        exposure_pct=exposure_pct(trips, start, end),
        basis_usd=float(pnl["basis"]),
        funding_usd=float(pnl["funding"]),
        fees_usd=float(pnl["fees"]),
        per_venue=tuple(per_venue(run)),
        fills=int(rep["trade_count"]),
        fills_by_purpose=dict(rep["trades_by_purpose"]),
        events=int(rep["events"]),
        wall_s=float(rep["wall_s"]),
        final_trading_state=str(rep["final_trading_state"]),
    )
