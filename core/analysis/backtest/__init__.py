"""Backtesting and parameter optimisation on replay files.

- :mod:`core.analysis.backtest.runner`: one headless replay with an hourly strategy-equity curve.
- :mod:`core.analysis.backtest.stats`: the standard statistics of a run (return, Sharpe, Sortino,
  drawdown, round trips, win rate, PnL split per venue, exposure).
- :mod:`core.analysis.backtest.overrides`: ``--set key=value`` and ``--grid key=start:stop:step`` on
  dotted config keys, checked by the same rules as ``config.toml``.
- :mod:`core.analysis.backtest.optimize`: grid and random search in worker processes.
- :mod:`core.analysis.backtest.plots`: equity and drawdown as PNG and HTML (optional matplotlib).
- :mod:`core.analysis.backtest.frames` and :mod:`core.analysis.backtest.bt_strategy`: the
backtesting.py
  path (optional extra ``arbtui[bt]``, AGPL-3.0): replay -> DataFrame, our signal as a
  ``backtesting.Strategy``.

Nothing here imports textual or rich; pandas, matplotlib and backtesting.py are imported only
by the modules that need them, with a clear error naming the extra to install.
"""
