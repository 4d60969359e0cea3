"""Our funding-arb signal as a ``backtesting.Strategy`` (optional extra ``arbtui[bt]``).

:class:`CarryStrategy` trades the synthetic carry series of
:func:`core.analysis.backtest.frames.carry_frame`
(one unit = 1 USD of notional on each leg) with the engine's own decision code: the same
:class:`core.domain.signal.PairSignal` fed the rates and marks the engine observed, entries sized
like level 0 of the ladder (base x multiplier x volatility scale, capped, floored to the
first leg's lot), DCA ladder adds from :class:`core.domain.ladder.Ladder` triggered by each leg's
price against its first fill (slippage and tick as the paper venue fills), and the exit. Its
class attributes are the tunable parameters, so ``Backtest(df, CarryStrategy).run(...)`` and
``.optimize(entry_edge_pct=[...], ...)`` work as backtesting.py users expect;
:func:`strategy_params` gives their values for a config.

Not modelled (see docs/backtesting.md): the hedger's trades and band (the synthetic pair is
always exactly hedged), the drawdown stop-out, leg risk, and the capital and leverage limits.

backtesting.py buys whole units only (HAZARDS H19): sizes here are whole USD of notional, and
an entry that rounds to no unit raises :class:`UnitsError` instead of trading nothing.
:func:`run_bt` also turns backtesting.py's "canceled the relative-sized order" warning into
that error. ``optimize`` must run under ``if __name__ == "__main__":``; :func:`use_process_pool`
makes backtesting.py use worker processes of an explicit start method (spawn by default).
"""

from __future__ import annotations

import math
import multiprocessing
import warnings
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from core.analysis.backtest.frames import INSTALL_HINT, BtUnavailable
from core.domain.config import LadderSettings, Settings, SizingSettings, StrategySettings
from core.domain.errors import ArbtuiError
from core.domain.events import InstrumentSpec
from core.domain.ladder import Ladder, level_notional_usd, vol_scale
from core.domain.signal import PairSignal

try:
    import backtesting
    from backtesting import Backtest, Strategy
except ImportError as exc:  # the optional extra is missing
    raise BtUnavailable(f"backtesting.py is not installed: {INSTALL_HINT}") from exc


class UnitsError(ArbtuiError, ValueError):
    """An order would buy no whole unit (backtesting.py would report no trade)."""


@dataclass(slots=True)
class _Seen:
    """An instrument as the engine saw it at an observation: its mark and rate per hour
    (:class:`core.domain.signal.Observed`; not an ``InstrumentState``, which a build of the
    hot path with mypyc lets no interpreted class extend: bench/build_compiled.sh)."""

    mark: float | None
    per_hour: float | None

    def rate_per_hour(self) -> float | None:
        return self.per_hour


_SPEC = InstrumentSpec(venue="-", symbol="-", kind="linear", contract_size=Decimal(1),
                       tick=Decimal(1), lot=Decimal(1))  # fmt: skip


class CarryPerUnit:
    """Commission of the carry series: ``fee_per_unit`` USD per unit traded, whatever the
    index price (both legs' taker fee plus the paper venue's slippage on 1 USD each). A
    module-level class, so it pickles into spawned workers."""

    def __init__(self, fee_per_unit: float) -> None:
        self.fee_per_unit = fee_per_unit

    def __call__(self, order_size: float, price: float) -> float:
        return abs(order_size) * self.fee_per_unit


class CarryStrategy(Strategy):  # type: ignore[misc]
    """The engine's pair signal on :func:`~core.analysis.backtest.frames.carry_frame` data."""

    entry_edge_pct = 0.6
    exit_apr_pct = 10.0
    observations = 3
    exit_observations = 3
    min_hold_hours = 0.0
    holding_hours = 72.0
    use_ema_filter = False
    ema_fast = 3
    ema_slow = 12
    base_notional_usd = 10_000.0
    leg_max_notional_usd = 50_000.0
    vol_target_pct = 80.0
    min_scale = 0.25
    ladder_deltas_pct: tuple[float, ...] = (0.0, 3.0, 6.0, 10.0, 15.0)
    ladder_multipliers: tuple[float, ...] = (1.0, 1.0, 1.5, 2.0, 2.5)

    def init(self) -> None:
        if not 1 <= self.ema_fast < self.ema_slow:
            raise ValueError("ema_fast must be >= 1 and below ema_slow")
        if self.observations < 1:
            raise ValueError("observations must be >= 1")
        cfg = StrategySettings(
            holding_hours=float(self.holding_hours), entry_edge_pct=float(self.entry_edge_pct),
            exit_apr_pct=float(self.exit_apr_pct), observations=int(self.observations),
            exit_observations=int(self.exit_observations),
            min_hold_hours=float(self.min_hold_hours),
            use_ema_filter=bool(self.use_ema_filter), ema_fast=int(self.ema_fast),
            ema_slow=int(self.ema_slow),
        )  # fmt: skip
        self._ladder_cfg = LadderSettings(
            deltas_pct=tuple(self.ladder_deltas_pct), multipliers=tuple(self.ladder_multipliers)
        )
        self._sizing = SizingSettings(
            base_notional_usd=Decimal(repr(float(self.base_notional_usd))),
            leg_max_notional_usd=Decimal(repr(float(self.leg_max_notional_usd))),
            vol_target_pct=float(self.vol_target_pct), min_scale=float(self.min_scale),
        )  # fmt: skip
        df = self.data.df
        missing = [c for c in _NEEDED if c not in df.columns]
        if missing:
            raise ValueError(
                f"not a carry frame (core.analysis.backtest.frames.carry_frame): no {missing}"
            )
        self._col = {c: df[c].tolist() for c in _NEEDED}
        self._times = df.index
        self.signal = PairSignal(cfg, _SPEC, _SPEC)
        self.signal.round_trip_fees = float(self._col["fees_round_trip"][0])
        self._slip = Decimal(repr(float(self._col["slippage"][0])))
        self._tick = (Decimal(repr(float(self._col["tick_a"][0]))),
                      Decimal(repr(float(self._col["tick_b"][0]))))  # fmt: skip
        self.direction = 0
        self.units = 0
        self._opened: Any = None
        self.ladders: list[Ladder] = []
        self._done = 0  # rows already processed
        #: (kind, row time) of every decision: entry, add, exit
        self.decisions: list[tuple[str, Any]] = []

    # ---------------------------------------------------------------- per row
    def next(self) -> None:
        i = len(self.data) - 1
        while self._done < i:  # rows backtesting.py skipped: observe, cannot trade
            self._row(self._done, trade=False)
            self._done += 1
        self._row(i, trade=True)
        self._done = i + 1

    def _row(self, i: int, trade: bool) -> None:
        c = self._col
        if c["obs"][i]:
            a = _Seen(mark=_f(c["obs_mark_a"][i]),
                      per_hour=_f(c["obs_rate_a_per_hour"][i]))  # fmt: skip
            b = _Seen(mark=_f(c["obs_mark_b"][i]),
                      per_hour=_f(c["obs_rate_b_per_hour"][i]))  # fmt: skip
            self.signal.observe(a, b, self.direction)
            if self.direction == 0:
                d = self.signal.wants_entry()
                if d and trade:
                    self._enter(i, d)
            elif self.signal.wants_exit((self._times[i] - self._opened).total_seconds() / 3600):
                self._exit(i)
        if self.direction and trade:
            for _ in range(int(c["checks"][i])):
                self._adds(i)

    def _enter(self, i: int, direction: int) -> None:
        c = self._col
        scale = vol_scale(_f(c["obs_vol"][i]), self._sizing)
        room = self._sizing.leg_max_notional_usd
        lvl0 = Ladder.build("a", "a", 1, self._ladder_cfg).levels[0]
        usd = float(level_notional_usd(lvl0, self._sizing, scale, room))
        first = int(c["obs_first_leg"][i])
        lot = c["lot_usd_b" if first else "lot_usd_a"][i]
        units = int(math.floor(usd / lot) * lot) if lot and not math.isnan(lot) else int(usd)
        if units < 1:
            raise UnitsError(
                f"{self._times[i]}: entry of {usd:.2f} USD is below one unit (1 USD of notional "
                f"per leg) after the lot of {lot} USD: nothing would trade"
            )
        (self.buy if direction > 0 else self.sell)(size=units)
        self.direction, self.units = direction, units
        self._opened = self._times[i]
        self.decisions.append(("entry", self._times[i]))
        self.ladders = []
        for leg, mark in ((0, c["obs_mark_a"][i]), (1, c["obs_mark_b"][i])):
            side = (1 if leg == 1 else -1) * direction  # +1: short a, long b
            lad = Ladder.build("a" if leg == 0 else "b", "-", side, self._ladder_cfg)
            lad.anchor(self._fill_price(leg, mark, side > 0), Decimal(0), 0.0)
            self.ladders.append(lad)

    def _fill_price(self, leg: int, mark: float, up: bool) -> float:
        """The paper venue's fill: mark +- slippage, rounded to the tick against the taker."""
        px = Decimal(repr(mark)) * (1 + self._slip if up else 1 - self._slip)
        tick = self._tick[leg]
        ticks = (px / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
        return float((ticks * tick).quantize(tick))

    def _adds(self, i: int) -> None:
        r = self.signal.last
        if r.direction != self.direction or not self.signal.ema_confirms(self.direction):
            return
        c = self._col
        for leg, lad in enumerate(self.ladders):
            mark = c["mark_b" if leg else "mark_a"][i]
            if math.isnan(mark):
                continue
            lvl = lad.triggered(mark)
            if lvl is None:
                continue
            room = max(Decimal(0), self._sizing.leg_max_notional_usd - self.units)
            usd = float(
                level_notional_usd(
                    lvl, self._sizing, vol_scale(_f(c["vol"][i]), self._sizing), room
                )
            )
            lot = c["lot_usd_b" if leg else "lot_usd_a"][i]
            units = int(math.floor(usd / lot) * lot) if lot and not math.isnan(lot) else int(usd)
            if units < 1:
                lvl.status = "skipped"
                continue
            (self.buy if self.direction > 0 else self.sell)(size=units)
            lvl.status = "filled"
            self.units += units
            self.decisions.append(("add", self._times[i]))

    def _exit(self, i: int) -> None:
        self.position.close()
        self.decisions.append(("exit", self._times[i]))
        self.direction, self.units, self.ladders = 0, 0, []
        self.signal.entry_count = 0


_NEEDED = (
    "obs", "obs_mark_a", "obs_mark_b", "obs_rate_a_per_hour", "obs_rate_b_per_hour", "obs_vol",
    "obs_first_leg", "checks", "mark_a", "mark_b", "vol", "lot_usd_a", "lot_usd_b",
    "fees_round_trip", "slippage", "tick_a", "tick_b", "fee_per_unit",
)  # fmt: skip


def _f(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


# ------------------------------------------------------------------- helpers
def strategy_params(settings: Settings, pair: str | None = None) -> dict[str, Any]:
    """The :class:`CarryStrategy` parameters equal to ``settings`` (for ``run(**params)``)."""
    st, sz, lad = settings.strategy, settings.sizing, settings.ladder
    cfg = next((p for p in settings.pairs if pair is None or p.name == pair), None)
    if cfg is None:
        raise ValueError(f"no pair {pair!r} in the config")
    return {
        "entry_edge_pct": st.entry_edge_pct, "exit_apr_pct": st.exit_apr_pct,
        "observations": st.observations, "holding_hours": st.holding_hours,
        "exit_observations": st.exit_observations, "min_hold_hours": st.min_hold_hours,
        "use_ema_filter": st.use_ema_filter, "ema_fast": st.ema_fast, "ema_slow": st.ema_slow,
        "base_notional_usd": float(sz.base_notional_usd),
        "leg_max_notional_usd": float(min(sz.leg_max_notional_usd, cfg.max_notional_usd)),
        "vol_target_pct": sz.vol_target_pct, "min_scale": sz.min_scale,
        "ladder_deltas_pct": lad.deltas_pct, "ladder_multipliers": lad.multipliers,
    }  # fmt: skip


def carry_backtest(df: Any, cash: float = 100_000.0, **kwargs: Any) -> Backtest:
    """A ``Backtest`` of :class:`CarryStrategy` on ``df`` with the settings the agreement
    needs: fills at the row's close (``trade_on_close``, as the engine fills at the
    observation), the per-unit commission of the frame, open trades closed at the end
    (``finalize_trades``) so the statistics include them."""
    opts: dict[str, Any] = {
        "cash": cash,
        "commission": CarryPerUnit(float(df["fee_per_unit"].iloc[0])),
        "trade_on_close": True,
        "finalize_trades": True,
    }
    opts.update(kwargs)
    return Backtest(df, CarryStrategy, **opts)


def run_bt(bt: Backtest, **params: Any) -> Any:
    """``bt.run(**params)``, but backtesting.py's warning that a relative-sized order bought
    no whole unit becomes :class:`UnitsError` (HAZARDS H19: never empty statistics)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stats = bt.run(**params)
    for w in caught:
        if "canceled the relative-sized order" in str(w.message):
            raise UnitsError(
                f"backtesting.py bought 0 units: {w.message} Scale the units (for a venue frame "
                "pass btc_per_unit=0.001, i.e. trade mBTC) or size orders in whole units."
            )
    return stats


def use_process_pool(start_method: str = "spawn") -> None:
    """Make ``Backtest.optimize`` run in worker processes of ``start_method`` (backtesting.py
    otherwise switches the whole process to ``fork``). Call it, and ``optimize``, under
    ``if __name__ == "__main__":``."""
    backtesting.Pool = multiprocessing.get_context(start_method).Pool
