"""Prometheus metrics of one engine run: one registry, created once, served over HTTP.

:class:`Metrics` is a :class:`core.domain.records.Recorder`: fills, rejections, funding payments
and market samples update counters and gauges from the engine's thread (a few dict lookups a
record). Equity, drawdown, positions and the trading state are read at scrape time from
single engine attributes (atomic reads; no engine container is iterated off its thread); the
net delta is sampled on the engine's thread at each market observation and whenever
:meth:`Metrics.sample` is called. The live-feed and execution code report through
:meth:`set_feed_staleness`, :meth:`inc_reconnects`, :meth:`observe_order_latency` and
:meth:`set_queue_depth`; the run's wiring hands the object to whoever needs it.

Names follow the Prometheus conventions: ``arbtui_`` prefix, base units in the name
(seconds, USD, BTC, ratio), ``_total`` for counters. The endpoint binds 127.0.0.1 unless
configured (``[metrics] host``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from core.domain.contracts import is_coin
from core.domain.ledger import FundingPayment, Position
from core.domain.orders import Fill, OrderIntent, Rejection
from core.domain.records import (
    AlertRaised,
    ErrorRaised,
    MarketObserved,
    PairAdded,
    PairRemoved,
    Record,
)
from core.domain.risk import TradingState

if TYPE_CHECKING:
    from core.engine.engine import Engine

PURPOSES = ("entry", "ladder", "hedge", "exit", "unwind", "flatten", "kill")
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
POLL_S = 0.05
"""How often the HTTP server checks for shutdown (bounds the time :meth:`close` takes)."""


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class Metrics:
    """The metrics of ``engine`` in :attr:`registry` (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.registry = r = CollectorRegistry()
        self._server: ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None
        lbl_vs = ("venue", "symbol")
        self.funding_rate = Gauge(
            "arbtui_funding_rate_per_hour",
            "Funding rate of the next settlement divided by its interval in hours (fraction).",
            lbl_vs,
            registry=r,
        )
        self.funding_spread = Gauge(
            "arbtui_funding_spread_per_hour",
            "Short-leg minus long-leg funding rate per hour of a pair (fraction).",
            ("pair",),
            registry=r,
        )
        self.price_spread = Gauge(
            "arbtui_price_spread_ratio",
            "Price spread (basis) between a pair's legs, fraction of the mid price.",
            ("pair",),
            registry=r,
        )
        self.position = Gauge(
            "arbtui_position",
            "Signed position in the venue's unit (BTC for linear, contracts for inverse).",
            (*lbl_vs, "unit"),
            registry=r,
        )
        self.net_delta = Gauge(
            "arbtui_net_delta_btc", "Net BTC delta of all legs (+ IBIT, + margin).", registry=r
        )
        self.equity = Gauge("arbtui_equity_usd", "Equity marked to market (USD).", registry=r)
        self.drawdown = Gauge(
            "arbtui_drawdown_ratio", "Drawdown of equity from its peak (fraction).", registry=r
        )
        self.drawdown_limit = Gauge(
            "arbtui_drawdown_limit_ratio", "Drawdown that flattens and halts.", registry=r
        )
        self.trading_state = Gauge(
            "arbtui_trading_state",
            "1 for the current trading state, 0 else.",
            ("state",),
            registry=r,
        )
        self.feed_staleness = Gauge(
            "arbtui_feed_staleness_seconds",
            "Seconds since a venue's market data last arrived.",
            ("venue",),
            registry=r,
        )
        self.queue_depth = Gauge(
            "arbtui_order_queue_depth", "Order intents waiting to be sent.", registry=r
        )
        self.trades = Counter(
            "arbtui_trades", "Executed trades (fills).", (*lbl_vs, "purpose"), registry=r
        )
        self.funding_received = Counter(
            "arbtui_funding_received_usd",
            "Funding received (USD at the mark).",
            lbl_vs,
            registry=r,
        )
        self.funding_paid = Counter(
            "arbtui_funding_paid_usd", "Funding paid (USD at the mark).", lbl_vs, registry=r
        )
        self.fees = Counter("arbtui_fees_usd", "Trading fees paid (USD).", ("venue",), registry=r)
        self.rebates = Counter(
            "arbtui_fee_rebates_usd", "Maker rebates received (USD).", ("venue",), registry=r
        )
        self.rejects = Counter(
            "arbtui_order_rejects", "Orders refused (risk gate or venue).", ("venue",), registry=r
        )
        self.reconnects = Counter(
            "arbtui_feed_reconnects", "Market-data reconnects.", ("venue",), registry=r
        )
        self.alerts = Counter("arbtui_alerts", "Alerts raised for the operator.", registry=r)
        self.errors = Counter("arbtui_errors", "Exceptions caught by the engine.", registry=r)
        self.faults = Counter(
            "arbtui_metrics_faults", "Records the metrics could not take in.", registry=r
        )
        self.order_latency = Histogram(
            "arbtui_order_latency_seconds",
            "Time from sending an order to the venue's answer.",
            ("venue",),
            buckets=LATENCY_BUCKETS_S,
            registry=r,
        )
        self._trades: dict[tuple[str, str, str], Any] = {}
        self._pair_children: dict[str, tuple[Any, Any, Any, Any]] = {}
        self._prepare()

    # ------------------------------------------------------------- wiring
    def _prepare(self) -> None:
        """Create every labelled series up front (so a scrape shows them from the start)
        and bind the scrape-time readings."""
        eng = self.engine
        venues = sorted({v for v, _ in eng.specs})
        for key in eng.specs:
            self._instrument(key)
        for venue in venues:
            for metric in (self.fees, self.rebates, self.rejects, self.reconnects):
                metric.labels(venue)
            self.feed_staleness.labels(venue)
            self.order_latency.labels(venue)
        for pr in eng.pairs:
            self._pair(pr.cfg.name)
        self.equity.set_function(lambda: eng.equity_usd)
        self.drawdown.set_function(lambda: eng.dd.drawdown_pct / 100)
        self.drawdown_limit.set(eng.dd.limit_pct / 100)
        for state in TradingState:
            self.trading_state.labels(str(state)).set_function(_reader_state(eng, state))

    def _instrument(self, key: tuple[str, str]) -> None:
        """The series of one instrument (funding, position, trades by purpose)."""
        venue, symbol = key
        spec = self.engine.specs[key]
        self.funding_rate.labels(venue, symbol)
        unit = "contracts" if spec.kind == "inverse" or spec.contract_size != 1 else "BTC"
        pos = self.engine.ledger.positions[key]
        self.position.labels(venue, symbol, unit).set_function(_reader_qty(pos))
        for purpose in PURPOSES:
            self._trades[(venue, symbol, purpose)] = self.trades.labels(venue, symbol, purpose)
        self.funding_received.labels(venue, symbol)
        self.funding_paid.labels(venue, symbol)

    def _pair(self, name: str) -> None:
        """The series of one pair (its legs' rates, the spread, the basis)."""
        pr = next(p for p in self.engine.pairs if p.cfg.name == name)
        self._pair_children[name] = (
            self.funding_rate.labels(*pr.key_a),
            self.funding_rate.labels(*pr.key_b),
            self.funding_spread.labels(name),
            self.price_spread.labels(name),
        )

    def serve(self, host: str = "127.0.0.1", port: int = 9464) -> int:
        """Serve ``/metrics`` on ``host:port`` (``port`` 0: any free port) from a daemon
        thread; return the bound port. Raises OSError if the address is taken."""
        server = make_server(
            host, port, make_wsgi_app(self.registry), ThreadingWSGIServer, handler_class=_Quiet
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(POLL_S,), name="arbtui-metrics", daemon=True
        )
        self._thread.start()
        return int(server.server_port)

    def close(self) -> None:
        """Stop serving (returns within about :data:`POLL_S`)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ------------------------------------------------------ engine records
    def before_send(self, intent: OrderIntent) -> None:
        """Nothing to do before a send (latency is observed by the execution code)."""

    def record(self, rec: Record) -> None:
        """Update the metrics a record touches (engine thread). Never raises: a metrics
        fault must not disturb the engine (it is counted in ``arbtui_metrics_faults_total``)."""
        try:
            self._record(rec)
        except Exception:
            self.faults.inc()

    def _record(self, rec: Record) -> None:
        if isinstance(rec, MarketObserved):
            self._observed(rec)
        elif isinstance(rec, PairAdded):  # a pair added at run time: its series from now on
            pr = next(p for p in self.engine.pairs if p.cfg.name == rec.pair)
            for leg in (pr.key_a, pr.key_b):
                self._instrument(leg)
            self._pair(rec.pair)
        elif isinstance(rec, PairRemoved):  # its spread series go; the legs' series stay
            if self._pair_children.pop(rec.pair, None) is not None:
                self.funding_spread.remove(rec.pair)
                self.price_spread.remove(rec.pair)
        elif isinstance(rec, Fill):
            key = (rec.venue, rec.symbol, rec.purpose)
            child = self._trades.get(key)
            if child is None:  # a purpose or instrument not known up front
                child = self._trades[key] = self.trades.labels(*key)
            child.inc()
            if rec.fee:
                fee_usd = rec.fee
                if is_coin(rec.fee_currency):  # at the mark the ledger books it with
                    fee_usd = rec.fee * Decimal(repr(self.engine.coin_usd()))
                if fee_usd > 0:
                    self.fees.labels(rec.venue).inc(float(fee_usd))
                else:
                    self.rebates.labels(rec.venue).inc(float(-fee_usd))
        elif isinstance(rec, FundingPayment):
            if rec.amount_usd >= 0:
                self.funding_received.labels(rec.venue, rec.symbol).inc(float(rec.amount_usd))
            else:
                self.funding_paid.labels(rec.venue, rec.symbol).inc(float(-rec.amount_usd))
        elif isinstance(rec, Rejection):
            self.rejects.labels(rec.venue).inc()
        elif isinstance(rec, AlertRaised):
            self.alerts.inc()
        elif isinstance(rec, ErrorRaised):
            self.errors.inc()

    def _observed(self, rec: MarketObserved) -> None:
        """An hourly market sample: the gauges of one pair, children looked up once."""
        children = self._pair_children.get(rec.pair)
        if children is None:
            return
        rate_a, rate_b, spread, basis = children
        if rec.rate_a_per_hour is not None:
            rate_a.set(rec.rate_a_per_hour)
        if rec.rate_b_per_hour is not None:
            rate_b.set(rec.rate_b_per_hour)
        if rec.spread_per_hour is not None:
            spread.set(rec.spread_per_hour)
        if rec.basis is not None:
            basis.set(rec.basis)
        self.sample()

    def sample(self) -> None:
        """Read the engine values that need its thread (net delta). Call from the engine's
        thread only (the live host may call it on a timer)."""
        self.net_delta.set(self.engine.net_delta_btc_float())

    # --------------------------------------------- feeds and execution
    def set_feed_staleness(self, venue: str, seconds: float) -> None:
        """Seconds since ``venue``'s market data last arrived (the live feed sets it)."""
        self.feed_staleness.labels(venue).set(seconds)

    def inc_reconnects(self, venue: str, n: int = 1) -> None:
        """Count a market-data reconnect of ``venue``."""
        self.reconnects.labels(venue).inc(n)

    def observe_order_latency(self, venue: str, seconds: float) -> None:
        """One order's send-to-answer time on ``venue``."""
        self.order_latency.labels(venue).observe(seconds)

    def set_queue_depth(self, n: int) -> None:
        """Order intents waiting in the order queue."""
        self.queue_depth.set(n)


def _reader_qty(pos: Position) -> Callable[[], float]:
    return lambda: float(pos.qty)


def _reader_state(eng: Engine, state: TradingState) -> Callable[[], float]:
    return lambda: 1.0 if eng.state is state else 0.0
