"""A replay as backtesting.py's DataFrame (optional extra ``arbtui[bt]``: pandas).

Two forms, both on a UTC :class:`pandas.DatetimeIndex` (every time stays integer UTC ms until
the index is built, so any as-of join between the venues happens in UTC; HAZARDS H19):

- :func:`venue_frame`: one venue's own bars, indexed by bar open time: ``Open High Low Close
  Volume`` in the venue's prices, scaled to whole units of ``btc_per_unit`` BTC, plus
  ``funding_<venue>`` for each venue (the settled rate on the bar that contains the settlement
  instant, NaN on every other bar: funding is never forward-filled), ``rate_per_hour_<venue>``
  (each venue's next rate per hour as known at the bar's close), ``spread`` (this close minus
  the other venue's last price at the same instant, USD) and ``spread_pct``.
- :func:`carry_frame`: one pair as a synthetic carry instrument, one row per replay instant
  (events sharing a ``ts_ms``), indexed by that instant. One unit = 1 USD of notional on the
  pair's first leg (the coarse-lot leg the engine sends first: XBTUSD against BTCUSDT) and the
  same BTC delta, 1 / P_first BTC, on the other leg, re-matched every row as the engine's
  hedger does; direction +1 = short leg a, long leg b. ``Close`` is a carry index starting at
  1.0 that adds, from one row to the next, the basis move (P_b - P_a now minus before) / P_first
  and, on settlement rows only (``carry_funding``; never forward-filled), what the unit's legs
  are paid there: leg a's settled rate x P_a / P_first (the short leg receives a positive rate)
  minus leg b's rate x P_b / P_first. Each leg's PnL is counted in USD as it accrues (an
  inverse leg's XBT at the price of the moment). Holding ``n`` units from row i to row j earns
  ``n x (Close_j - Close_i)`` USD; fees are the commission
  (:func:`core.analysis.backtest.bt_strategy.carry_backtest`). Other columns carry what the strategy
  decides on, exactly as the engine sees it: the observation grid (``obs``), the rates per hour
  and marks at that observation, the number of price events of the row (``checks``), realised
  volatility, lot sizes in USD, tick sizes and fees.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from core.domain.config import Settings
from core.domain.errors import ArbtuiError
from core.domain.events import Bar, Event, FundingRate, FundingSettled, InstrumentSpec
from core.domain.market import InstrumentState, MarketState

if TYPE_CHECKING:
    import pandas as pd

INSTALL_HINT = "pip install 'arbtui[bt]' (backtesting.py, AGPL-3.0, with pandas)"
NAN = math.nan


class BtUnavailable(ArbtuiError, ImportError):
    """pandas or backtesting.py is not installed."""


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise BtUnavailable(f"the backtesting.py adapter needs pandas: {INSTALL_HINT}") from None
    return pandas


def utc_index(ts_ms: Sequence[int]) -> pd.DatetimeIndex:
    """UTC ms -> a tz-aware UTC DatetimeIndex."""
    pd = _pandas()
    return pd.DatetimeIndex(pd.to_datetime(list(ts_ms), unit="ms", utc=True))


# ------------------------------------------------------------------ one venue
def venue_frame(
    events: Iterable[Event],
    venue: str,
    symbol: str,
    *,
    btc_per_unit: float = 1.0,
    volume_in_btc: bool = True,
) -> pd.DataFrame:
    """One venue's bars as an OHLCV frame (see the module docstring).

    ``btc_per_unit`` scales prices to whole units that backtesting.py can buy (it buys whole
    units only, HAZARDS H19): 0.001 makes one unit a mBTC, so a 10,000 USD account can hold
    fractions of a BTC. Prices are multiplied by it, BTC volumes divided (USD-contract volumes
    of inverse bars, ``volume_in_btc=False``, stay as they are). ``frame.attrs`` records the
    unit. Raises ValueError when the replay has no bar of ``venue``/``symbol``.
    """
    pd = _pandas()
    if not btc_per_unit > 0:
        raise ValueError(f"btc_per_unit must be > 0, got {btc_per_unit}")
    market = MarketState()
    rows: list[dict[str, Any]] = []
    opens: list[int] = []
    ends: list[int] = []
    settled: list[FundingSettled] = []
    venues: set[str] = set()
    for ev in events:
        market.apply(ev)
        venues.add(ev.venue)
        if isinstance(ev, FundingSettled):
            settled.append(ev)
        if not (isinstance(ev, Bar) and ev.venue == venue and ev.symbol == symbol):
            continue
        other = _other_mark(market, venue)
        row: dict[str, Any] = {
            "Open": ev.open, "High": ev.high, "Low": ev.low, "Close": ev.close,
            "Volume": ev.volume if ev.volume is not None else NAN,
            "spread": ev.close - other if other is not None else NAN,
            "spread_pct": (ev.close - other) / ((ev.close + other) / 2) * 100
            if other is not None else NAN,
        }  # fmt: skip
        for k, ist in market.instruments.items():
            row[f"rate_per_hour_{k[0]}"] = _none_nan(ist.rate_per_hour())
        rows.append(row)
        opens.append(ev.open_ts_ms)
        ends.append(ev.open_ts_ms + ev.interval_ms)
    if not rows:
        raise ValueError(f"the replay has no bars of {venue} {symbol}")
    df = pd.DataFrame(rows, index=utc_index(opens))
    for v in sorted(venues):
        df[f"funding_{v}"] = NAN
        df[f"rate_per_hour_{v}"] = df.get(f"rate_per_hour_{v}", NAN)
    col = {v: df.columns.get_loc(f"funding_{v}") for v in venues}
    for fs in settled:  # the bar containing the settlement instant, else the next bar
        i = bisect.bisect_right(opens, fs.ts_ms) - 1
        if i < 0 or fs.ts_ms >= ends[i]:
            i += 1
        if 0 <= i < len(df):
            df.iat[i, col[fs.venue]] = float(fs.rate)
    if btc_per_unit != 1.0:
        for c in ("Open", "High", "Low", "Close", "spread"):
            df[c] = df[c] * btc_per_unit
        if volume_in_btc:  # inverse bars count USD contracts
            df["Volume"] = df["Volume"] / btc_per_unit
    df.attrs["unit"] = f"{btc_per_unit:g} BTC of {venue} {symbol}"
    df.attrs["source"] = f"arbtui replay, {venue} {symbol} bars"
    return df


def _other_mark(market: MarketState, venue: str) -> float | None:
    for (v, _), s in market.instruments.items():
        if v != venue and s.mark is not None:
            return s.mark
    return None


def _none_nan(x: float | None) -> float:
    return NAN if x is None else x


# -------------------------------------------------------------------- the pair
def carry_frame(
    events: Iterable[Event], settings: Settings, pair: str | None = None
) -> pd.DataFrame:
    """The pair ``pair`` (default: the first configured) as a synthetic carry series (see the
    module docstring). ``settings`` give the legs, their specs, the observation grid, the
    volatility lookback and the paper venue's slippage. Raises ValueError for an unknown pair
    or a replay without prices of both legs."""
    pd = _pandas()
    cfg = next((p for p in settings.pairs if pair is None or p.name == pair), None)
    if cfg is None:
        raise ValueError(f"no pair {pair!r} in the config")
    spec_a, spec_b = settings.instruments[cfg.leg_a], settings.instruments[cfg.leg_b]
    key_a, key_b = (spec_a.venue, spec_a.symbol), (spec_b.venue, spec_b.symbol)
    market = MarketState()
    sa, sb = market.get(*key_a), market.get(*key_b)
    obs_ms = settings.strategy.observe_every_s * 1000
    fresh_ms = settings.hedge.fresh_price_s * 1000
    look = settings.sizing.vol_lookback_hours
    next_obs = 0
    vols: dict[tuple[int, int], float] = {}
    cols: dict[str, list[Any]] = {n: [] for n in _CARRY_COLUMNS}
    times: list[int] = []
    row: dict[str, Any] | None = None
    index = 1.0
    prev_a = prev_b = None

    def close_row(r: dict[str, Any]) -> None:
        nonlocal index, prev_a, prev_b
        pa, pb = sa.mark, sb.mark
        before = index
        carry = 0.0
        if pa is not None and pb is not None:
            if prev_a is not None and prev_b is not None:  # one unit holds 1 / P_first BTC
                first = prev_b if _first_leg(spec_a, spec_b, prev_a, prev_b) else prev_a
                index += ((pb - prev_b) - (pa - prev_a)) / first
            first = pb if _first_leg(spec_a, spec_b, pa, pb) else pa
            if not math.isnan(r["funding_a"]):  # the short leg a receives a positive rate
                carry += r["funding_a"] * pa / first
            if not math.isnan(r["funding_b"]):
                carry -= r["funding_b"] * pb / first
            prev_a, prev_b = pa, pb
        index += carry
        r["carry_funding"] = carry
        r.update(Open=before, High=max(before, index), Low=min(before, index), Close=index)
        r.update(mark_a=_none_nan(pa), mark_b=_none_nan(pb))
        r.update(rate_a_per_hour=_none_nan(sa.rate_per_hour()),
                 rate_b_per_hour=_none_nan(sb.rate_per_hour()))  # fmt: skip
        r["spread_pct"] = (pb - pa) / ((pa + pb) / 2) * 100 if pa and pb else NAN
        r["vol"] = _vol(sa, sb, look, vols)
        r["lot_usd_a"], r["lot_usd_b"] = _lot_usd(spec_a, pa), _lot_usd(spec_b, pb)
        # the engine's pair looks once an instant, and adds a ladder level only while both
        # legs are priced at it (within [hedge] fresh_price_s: the add's hedge fills there)
        now = times[-1]
        fresh = all(
            st.last_ts_ms is not None and now - st.last_ts_ms <= fresh_ms for st in (sa, sb)
        )
        r["checks"] = 1 if r["checks"] and fresh else 0
        if r["obs"]:  # one instant, one state: the observation sees every event of the row
            r.update(
                obs_rate_a_per_hour=_none_nan(sa.rate_per_hour()),
                obs_rate_b_per_hour=_none_nan(sb.rate_per_hour()),
                obs_mark_a=_none_nan(pa),
                obs_mark_b=_none_nan(pb),
                obs_vol=_vol(sa, sb, look, vols),
                obs_first_leg=_first_leg(spec_a, spec_b, pa, pb),
            )
        for n in _CARRY_COLUMNS:
            cols[n].append(r[n])

    for ev in events:
        if row is None or ev.ts_ms != times[-1]:
            if row is not None:
                close_row(row)
            times.append(ev.ts_ms)
            row = dict(_EMPTY_ROW)
        market.apply(ev)
        key = (ev.venue, ev.symbol)
        if isinstance(ev, FundingSettled) and key in (key_a, key_b):
            row["funding_a" if key == key_a else "funding_b"] = float(ev.rate)
        if isinstance(ev, Bar) and key in (key_a, key_b) and ev.volume is not None:
            row["Volume"] += _usd_volume(spec_a if key == key_a else spec_b, ev)
        if obs_ms > 0 and ev.ts_ms >= next_obs:  # the engine's observation grid
            next_obs = (ev.ts_ms // obs_ms + 1) * obs_ms
            row["obs"] = 1  # taken once the whole instant is applied (close_row), as the engine
        if not isinstance(ev, FundingRate) and key in (key_a, key_b):
            row["checks"] += 1
    if row is None:
        raise ValueError("the replay has no events")
    close_row(row)
    if all(math.isnan(x) for x in cols["mark_a"]) or all(math.isnan(x) for x in cols["mark_b"]):
        raise ValueError(f"the replay has no prices of both legs of pair {cfg.name}")
    df = pd.DataFrame(cols, index=utc_index(times))
    slip = settings.paper.slippage_bps / 10_000
    fees = float(spec_a.taker_fee + spec_b.taker_fee)
    df["fees_round_trip"] = 2 * fees  # the signal's fee term (core.domain.signal)
    df["fee_per_unit"] = fees + 2 * slip  # one side of the pair: both legs' taker fee + slip
    df["slippage"] = slip
    df["tick_a"], df["tick_b"] = float(spec_a.tick), float(spec_b.tick)
    df.attrs.update(
        pair=cfg.name,
        leg_a=f"{spec_a.venue} {spec_a.symbol}",
        leg_b=f"{spec_b.venue} {spec_b.symbol}",
        unit="1 USD of notional on each leg; +1 = short leg a / long leg b",
        source="arbtui replay, synthetic carry series",
    )
    return df


_CARRY_COLUMNS = (
    "Open", "High", "Low", "Close", "Volume", "mark_a", "mark_b", "spread_pct",
    "rate_a_per_hour", "rate_b_per_hour", "funding_a", "funding_b", "obs",
    "obs_rate_a_per_hour", "obs_rate_b_per_hour", "obs_mark_a", "obs_mark_b", "obs_vol",
    "obs_first_leg", "checks", "vol", "lot_usd_a", "lot_usd_b", "carry_funding",
)  # fmt: skip
_EMPTY_ROW: dict[str, Any] = {
    "Volume": 0.0, "funding_a": NAN, "funding_b": NAN, "obs": 0, "obs_rate_a_per_hour": NAN,
    "obs_rate_b_per_hour": NAN, "obs_mark_a": NAN, "obs_mark_b": NAN, "obs_vol": NAN,
    "obs_first_leg": 0, "checks": 0,
}  # fmt: skip


def _vol(
    a: InstrumentState, b: InstrumentState, look: int, cache: dict[tuple[int, int], float]
) -> float:
    """max realised vol of the two legs, as :meth:`core.engine.pair.PairRuntime._scale` takes it
    (cached per hour: the hourly closes change only when an hour turns)."""
    key = (a._last_hour, b._last_hour)
    hit = cache.get(key)
    if hit is None:
        vols = [v for v in (a.realised_vol(look), b.realised_vol(look)) if v is not None]
        hit = cache[key] = max(vols) if vols else NAN
    return hit


def _lot_usd(spec: InstrumentSpec, mark: float | None) -> float:
    if spec.kind == "inverse":
        return float(spec.lot * spec.contract_size)
    return float(spec.lot * spec.contract_size) * mark if mark is not None else NAN


def _first_leg(a: InstrumentSpec, b: InstrumentSpec, pa: float | None, pb: float | None) -> int:
    """0 = leg a goes first (its lot carries at least as much BTC as leg b's), 1 = leg b, as
    :meth:`core.engine.pair.PairRuntime.enter` orders them."""
    if pa is None or pb is None:
        return 0
    return 0 if _lot_btc(a, pa) >= _lot_btc(b, pb) else 1


def _lot_btc(spec: InstrumentSpec, price: float) -> float:
    size = float(spec.lot * spec.contract_size)
    return size / price if spec.kind == "inverse" else size


def _usd_volume(spec: InstrumentSpec, bar: Bar) -> float:
    """A bar's volume in USD: linear contracts x size x close; inverse contracts x size."""
    size = float(spec.contract_size)
    vol = bar.volume or 0.0
    return vol * size if spec.kind == "inverse" else vol * size * bar.close
