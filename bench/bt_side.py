"""backtesting.py's side of the side-by-side benchmarks: the same bars as a DataFrame and the
one strategy both benchmarks time (an EMA 10/30 cross, at module level: backtesting.py's
optimize pickles it)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from backtesting import Strategy
from backtesting.lib import crossover

from core.domain.events import Bar


def bt_frame(events: list[Any]) -> Any:
    bars = [e for e in events if isinstance(e, Bar) and e.venue == "bitmex"]
    return pd.DataFrame(
        {
            "Open": [b.open for b in bars],
            "High": [b.high for b in bars],
            "Low": [b.low for b in bars],
            "Close": [b.close for b in bars],
            "Volume": [b.volume for b in bars],
        },
        index=pd.to_datetime([b.open_ts_ms for b in bars], unit="ms", utc=True),
    )


def _ema(x: object, n: int) -> object:
    return pd.Series(x).ewm(span=n, adjust=False).mean().to_numpy()


class EmaCross(Strategy):  # type: ignore[misc]
    """EMA 10/30 cross on Close (top level: backtesting.py's optimize pickles it)."""

    n1, n2 = 10, 30

    def init(self) -> None:
        self.fast = self.I(_ema, self.data.Close, self.n1)
        self.slow = self.I(_ema, self.data.Close, self.n2)

    def next(self) -> None:
        if crossover(self.fast, self.slow):
            self.position.close()
            self.buy()
        elif crossover(self.slow, self.fast):
            self.position.close()
            self.sell()
