"""End to end, Binance against Bybit, in ``--paper`` and ``--live`` (the fake private sides):
entry on both legs, a DCA ladder add after a 3 % move against one leg, the hedge that brings
the net BTC delta back inside the band, funding at a settlement after the entry, and the kill
switch. Run on the shipped config (Binance BTCUSDT / Bybit BTCUSDT linear) and on
``configs/binance_bybit_inverse.toml`` (Bybit BTCUSD inverse, 1 contract = 1 USD).

Prices: the public fakes send Binance mark 83084.30 (its book set one tick either side, so the
book's mid is the mark too) and Bybit mark 28552.81 (BTCUSDT) or 28560.00 (BTCUSD); the engine
sizes from those marks. The paper venue fills at the mark with 2 bps slippage rounded to the
tick against the taker; the fake private venues fill at their ``price``, set here to the
public marks (rounded to the tick) so a ladder trigger is measured from a fill the feed
agrees with.

Funding: a settlement instant lies on the venue's hour grid (settlement times are snapped to
the whole hour; a row further than 60 s from one is refused), so the one after the entry is
the next whole hour ``H``. The ledger charges the position held at ``H`` (fills stamped before
it), so the fakes serve a row for ``H`` as soon as the entry, the add and the hedge are in:
the Binance fake's ``fundingRate`` at once (it does not filter by time), the Bybit fake's
``funding/history`` row once the poller's end time (``until`` = its wall clock) is past ``H``:
that one clock of the Bybit poller is moved to just after ``H``, as if the poll ran then.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from core.domain import commands as cmd
from core.domain.config import Settings, load_config
from core.domain.orders import Fill
from core.domain.timeutil import ms_to_iso
from core.feeds import sink as feed_sink
from core.runtime.paper_session import PaperSession, build_paper_session
from tests.conftest import eventually
from tests.fake_exchange.exchanges import FakeExchanges
from tests.fake_exchange.thread import ServerThread
from tests.fake_venues import ENV, KEYS, ROOT, FakeBinance, FakeBybit, live_settings
from tests.helpers import with_overrides

HOUR_MS = 3_600_000
D = Decimal


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARBTUI_STATE_DIR", str(tmp_path / "state"))
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


@dataclass
class Rig:
    st: ServerThread
    feeds: FakeExchanges
    fb: FakeBinance
    fy: FakeBybit

    def on_loop(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the fakes' loop (their pushes need it)."""

        async def run() -> None:
            fn()

        self.st.call(run())


@pytest.fixture
def rig() -> Iterator[Rig]:
    st = ServerThread()
    feeds = FakeExchanges()
    st.call(feeds.start())
    fb = st.call(FakeBinance(*KEYS["binance"]).start())
    fy = st.call(FakeBybit(*KEYS["bybit"]).start())
    yield Rig(st, feeds, fb, fy)
    st.call(fb.stop())
    st.call(fy.stop())
    st.call(feeds.stop())
    st.close()


@dataclass(frozen=True)
class Case:
    """One config and what its run must book (quantities in each venue's unit)."""

    config: str
    symbol: str  # the Bybit leg
    bybit_mark: str  # the Bybit fake's recorded mark
    ladder_venue: str
    entry_qty: tuple[Decimal, Decimal]  # binance buy, bybit sell
    ladder: tuple[str, Decimal]  # side, qty on ladder_venue
    hedge: tuple[str, str, Decimal]  # venue, side, qty
    paper_prices: dict[str, Decimal]  # purpose@venue -> paper fill price
    held: tuple[Decimal, Decimal]  # binance, bybit at the settlement
    funding: tuple[Decimal, Decimal]  # binance (USDT), bybit (settle currency) received

    @property
    def inverse(self) -> bool:
        return self.symbol == "BTCUSD"


LINEAR = Case(
    config="config.toml",
    symbol="BTCUSDT",
    bybit_mark="28552.81",
    # the long Binance leg: its mark falls from 83084.30 to 80000.00, below the level-1
    # trigger 0.97 x its first fill
    ladder_venue="binance",
    # 10,000 USD / 83084.30 = 0.12036 -> 0.120 BTC on Binance, the same BTC on Bybit
    entry_qty=(D("0.120"), D("0.120")),
    # level 1 (multiplier 1): 10,000 USD / 80000.00 = 0.125 BTC
    ladder=("buy", D("0.125")),
    # net +0.125 BTC > band 0.1: the leg that did not add sells 0.125
    hedge=("bybit", "sell", D("0.125")),
    paper_prices={
        "entry@binance": D("83100.92"),  # 83084.30 x 1.0002 = 83100.91686, up to 0.01
        "entry@bybit": D("28547.0"),  # 28552.81 x 0.9998 = 28547.10, down to 0.1
        "ladder@binance": D("80016.00"),  # 80000.00 x 1.0002
        "hedge@bybit": D("28547.0"),
    },
    held=(D("0.245"), D("-0.245")),
    # -0.245 x 80012.34 x 0.0001; +0.245 x 28552.81 x 0.0001
    funding=(D("-1.96030233"), D("0.699543845")),
)
INVERSE = Case(
    config="configs/binance_bybit_inverse.toml",
    symbol="BTCUSD",
    bybit_mark="28560.00",
    # the short Bybit leg: its mark rises from 28560.00 to 29500.00, above 1.03 x its first fill
    ladder_venue="bybit",
    # 0.120 BTC x 28560.00 = 3427.2 -> 3427 contracts (1 USD each)
    entry_qty=(D("0.120"), D("3427")),
    # level 1: 10,000 USD = 10000 contracts
    ladder=("sell", D("10000")),
    # net 0.120 - 13427 / 29500 = -0.33515 BTC: Binance buys 0.335 (residual 0.00015)
    hedge=("binance", "buy", D("0.335")),
    paper_prices={
        "entry@binance": D("83100.92"),
        "entry@bybit": D("28554.0"),  # 28560.00 x 0.9998 = 28554.29, down to 0.5
        "ladder@bybit": D("29494.0"),  # 29500.00 x 0.9998 = 29494.10, down to 0.5
        "hedge@binance": D("83100.92"),
    },
    held=(D("0.455"), D("-13427")),
    # -0.455 x 80012.34 x 0.0001 USDT; 13427 / 29500.00 x 0.0001 BTC (to 1e-18)
    funding=(D("-3.64056147"), D("0.000045515254237288")),
)
CASES = [LINEAR, INVERSE]
BINANCE_MARK = D("83084.30")
MOVED = {"binance": D("80000.00"), "bybit": D("29500.00")}
RATE = D("0.0001")
BN_SETTLE_MARK = D("80012.34")


def settings_for(case: Case, rig: Rig, mode: str) -> Settings:
    """Entering on the first observation whatever the basis (the two venues' recorded frames
    are years apart); settled rates polled every 0.2 s. Paper starts ARMED, live DISARMED."""
    base = load_config(ROOT / case.config)
    s = with_overrides(
        base,
        metrics={"port": 0},
        risk={"start_state": "ARMED" if mode == "paper" else "DISARMED"},
        strategy={"observe_every_s": 1, "observations": 1, "entry_edge_pct": -100.0,
                  "exit_apr_pct": 0.0},
    )  # fmt: skip
    s = rig.feeds.settings(s, funding_rate_poll_s=0.2)
    if mode == "live":
        s = live_settings(s, rig.fb, rig.fy, timeout_ms=2000, grace_ms=500)
    return s


def start(case: Case, rig: Rig, mode: str) -> PaperSession:
    """The session of ``case`` in ``mode``, started; live is armed once execution is ready.
    Returns once the pair is open (both entry legs filled, ladders anchored)."""
    rig.fb.price = BINANCE_MARK
    rig.fy.price = D(case.bybit_mark).quantize(D("0.1"))
    centre(rig.feeds, BINANCE_MARK)
    session = build_paper_session(settings_for(case, rig, mode), mode=mode)
    host = session.host
    pair = session.engine.pairs[0]
    host.start()
    try:
        if mode == "live":
            eventually(
                lambda: any("live execution ready" in e.text for e in host.snapshot().log), 15
            )
            assert not session.engine.ledger.trades  # DISARMED: nothing is sent
            host.submit(cmd.Arm(source="test"))
        eventually(lambda: pair.status == "open" and len(pair.ladders) == 2, timeout_s=10)
    except BaseException:
        host.stop()
        raise
    return session


def settle_after_the_fills(session: PaperSession, rig: Rig, monkeypatch: pytest.MonkeyPatch) -> int:
    """Serve a settlement at the next whole hour after every fill so far (rate +0.0001 on
    both venues; Binance's settlement mark 80012.34) once both pollers have their baseline;
    wait for both payments. Returns the settlement instant."""
    eng = session.engine
    sym = eng.pairs[0].key_b[1]
    last_fill = max(t.fill.ts_ms for t in eng.ledger.trades)
    settle = (last_fill // HOUR_MS + 1) * HOUR_MS
    bn_poll, by_poll = session.feeds["binance_funding"], session.feeds["bybit_funding"]
    eventually(lambda: "BTCUSDT" in bn_poll.baseline and sym in by_poll.baseline)
    assert not eng.ledger.funding_payments  # the recorded rows are history: not charged
    real = feed_sink.wall_ms
    monkeypatch.setattr("core.venues.bybit.funding.wall_ms", lambda: max(real(), settle + 1_000))
    rig.feeds.rest.funding_extra.append(
        {"symbol": "BTCUSDT", "fundingTime": settle + 2, "fundingRate": f"{RATE:.8f}",
         "markPrice": f"{BN_SETTLE_MARK:.8f}", "rateType": "Regular"}
    )  # fmt: skip  # Binance's fundingTime carries a few ms of jitter
    rig.feeds.bybit.funding_extra.append(
        {"symbol": sym, "fundingRate": f"{RATE}", "fundingRateTimestamp": str(settle)}
    )
    eventually(lambda: len(eng.ledger.funding_payments) >= 2, timeout_s=5)
    assert len(eng.ledger.funding_payments) == 2
    return settle


def centre(feeds: FakeExchanges, mark: Decimal) -> None:
    """Binance's mark ``mark`` and its book one tick either side: the engine's Binance price
    (the mark, or the book's mid when a bookTicker came last) is ``mark`` either way."""
    tick = D("0.01")
    feeds.binance.set_prices(mark=f"{mark:.8f}", bid=f"{mark - tick}", ask=f"{mark + tick}")


def fills(session: PaperSession, purpose: str) -> list[Fill]:
    return [t.fill for t in list(session.engine.ledger.trades) if t.fill.purpose == purpose]


def held(session: PaperSession, venue: str, symbol: str) -> Decimal:
    return session.engine.ledger.position(venue, symbol).qty


def price_of(case: Case, mode: str, purpose: str, venue: str, moved: bool) -> Decimal:
    """What a fill of ``purpose`` on ``venue`` costs: the paper venue's slipped price, or the
    fake venue's price (the public mark, rounded to the tick; after the move, the new one)."""
    if mode == "paper":
        return case.paper_prices[f"{purpose}@{venue}"]
    if moved and venue == case.ladder_venue:
        return MOVED[venue]
    return BINANCE_MARK if venue == "binance" else D(case.bybit_mark).quantize(D("0.1"))


@pytest.mark.parametrize("case", CASES, ids=["linear", "inverse"])
@pytest.mark.parametrize("mode", ["paper", "live"])
def test_entry_ladder_hedge_funding_and_kill_on_both_venues(
    mode: str, case: Case, rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    feeds, fb, fy = rig.feeds, rig.fb, rig.fy
    sym = case.symbol
    session = start(case, rig, mode)
    eng = session.engine
    host = session.host
    pair = eng.pairs[0]
    try:
        # (a) entry: Binance long, Bybit short (Bybit's estimate 0.0001 / 8 h is above
        # Binance's 0.00000078 / 8 h); the coarser-lot leg (Binance) first
        entry = fills(session, "entry")
        assert [(f.venue, f.symbol, f.side, f.qty, f.reduce_only) for f in entry] == [
            ("binance", "BTCUSDT", "buy", case.entry_qty[0], False),
            ("bybit", sym, "sell", case.entry_qty[1], False),
        ]
        assert [f.price for f in entry] == [
            price_of(case, mode, "entry", "binance", False),
            price_of(case, mode, "entry", "bybit", False),
        ]
        assert (held(session, "binance", "BTCUSDT"), held(session, "bybit", sym)) == (
            case.entry_qty[0],
            -case.entry_qty[1],
        )
        assert not fills(session, "ladder") and not fills(session, "hedge")
        first = {f.venue: f.price for f in entry}

        # (b) a 3 % move against one leg: its level-1 add
        venue = case.ladder_venue
        moved = MOVED[venue]
        lad = pair.ladders[(venue, "BTCUSDT" if venue == "binance" else sym)]
        lvl1 = lad.levels[1]
        assert lvl1.trigger_price == pytest.approx(
            float(first[venue]) * (0.97 if venue == "binance" else 1.03)
        )
        if venue == "binance":
            fb.price = moved
            centre(feeds, moved)
        else:
            fy.price = moved
            feeds.bybit.set_ticker(f"tickers.{sym}", markPrice=f"{moved:.2f}")
        eventually(lambda: len(fills(session, "hedge")) >= 1, timeout_s=10)
        (add,) = fills(session, "ladder")
        side, qty = case.ladder
        assert (add.venue, add.side, add.qty, add.reduce_only) == (venue, side, qty, False)
        assert add.price == price_of(case, mode, "ladder", venue, True)
        assert lvl1.status == "filled" and lvl1.size == qty
        assert lad.levels[2].status == "pending"

        # (c) the hedge: the other leg, back inside [hedge] band_btc
        (hedge,) = fills(session, "hedge")
        h_venue, h_side, h_qty = case.hedge
        assert (hedge.venue, hedge.side, hedge.qty, hedge.reduce_only) == (
            h_venue, h_side, h_qty, False
        )  # fmt: skip
        assert hedge.price == price_of(case, mode, "hedge", h_venue, True)
        assert hedge.ts_ms >= add.ts_ms  # paper: on the same event
        assert (held(session, "binance", "BTCUSDT"), held(session, "bybit", sym)) == case.held
        if mode == "live":  # the venues hold what the ledger says
            assert (fb.positions["BTCUSDT"], fy.positions[sym]) == case.held
        band = eng.settings.hedge.band_btc
        eventually(lambda: abs(eng.net_delta_btc()) <= band)
        assert pair.hedge_cid is None and not pair.adding

        # (d) funding at the next whole hour, after every fill above: rate +0.0001, so the
        # long Binance leg pays and the short Bybit leg receives
        settle = settle_after_the_fills(session, rig, monkeypatch)
        pays = {p.venue: p for p in eng.ledger.funding_payments}
        bn, by = pays["binance"], pays["bybit"]
        # Binance (linear) at the row's settlement mark: -position x mark x rate, in USDT
        assert (bn.symbol, bn.settlement_ts_ms, bn.rate, bn.mark_price, bn.position) == (
            "BTCUSDT", settle, RATE, BN_SETTLE_MARK, case.held[0]
        )  # fmt: skip
        assert bn.amount == -case.held[0] * BN_SETTLE_MARK * RATE == case.funding[0] < 0
        assert bn.currency == "USDT"
        # Bybit at the engine's latest mark (funding/history rows carry none): linear
        # -position x mark x rate in USDT; inverse -contracts / mark x rate in BTC
        by_mark = MOVED["bybit"] if venue == "bybit" else D(case.bybit_mark)
        assert (by.symbol, by.settlement_ts_ms, by.rate, by.mark_price, by.position) == (
            sym, settle, RATE, by_mark, case.held[1]
        )  # fmt: skip
        if case.inverse:
            assert by.amount == -case.held[1] / by_mark * RATE > 0 and by.currency == "BTC"
        else:
            assert by.amount == -case.held[1] * by_mark * RATE > 0 and by.currency == "USDT"
        assert by.amount.quantize(case.funding[1]) == case.funding[1]

        # (e) kill switch: every close reduce-only, both venues flat, HALTED
        host.submit(cmd.Kill(source="test"))
        eventually(lambda: host.snapshot().risk.trading_state == "HALTED", timeout_s=5)
        eventually(lambda: not host.snapshot().exposure_open, timeout_s=10)
    finally:
        host.stop()
    kills = fills(session, "kill")
    assert sorted((f.venue, f.side, f.qty) for f in kills) == [
        ("binance", "sell", case.held[0]),
        ("bybit", "buy", -case.held[1]),
    ]
    assert all(f.reduce_only for f in kills)
    assert held(session, "binance", "BTCUSDT") == 0 and held(session, "bybit", sym) == 0
    assert str(eng.state) == "HALTED"
    if mode == "live":
        assert fb.positions.get("BTCUSDT", D(0)) == 0
        assert fy.positions.get(sym, D(0)) == 0
        closes = [o for o in fb.orders if o.reduce_only] + [o for o in fy.orders if o.reduce_only]
        assert len(closes) == 2


def bybit_statement(symbol: str, at_ms: int, received: str) -> dict[str, str]:
    """Bybit's own Funding execution for the short 0.120 BTC leg: ``execFee`` is positive
    when paid, so ``received`` goes in negated; a short's ``feeRate`` is minus the market's
    rate (:func:`core.venues.bybit.order_wire.parse_funding_execution`)."""
    frame = json.loads(
        (ROOT / "tests/data/bybit/private_ws_nautilus_execution_funding_handmade.json").read_text()
    )
    return dict(
        frame["data"][0],
        symbol=symbol,
        side="Sell",
        execQty="0.120",
        feeRate=f"{-RATE}",
        execFee=f"{-D(received)}",
        execPrice=LINEAR.bybit_mark,
        markPrice=LINEAR.bybit_mark,
        execTime=str(at_ms),
        execId=str(uuid.uuid4()),
    )


@pytest.mark.parametrize("jitter_ms", [0, 3], ids=["on-the-hour", "execTime-3ms-late"])
def test_live_bybit_funding_statement_differing_from_the_ledger_is_an_alert(
    jitter_ms: int, rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = start(LINEAR, rig, "live")
    eng = session.engine
    host = session.host
    try:
        settle = settle_after_the_fills(session, rig, monkeypatch)
        (by,) = [p for p in eng.ledger.funding_payments if p.venue == "bybit"]
        assert (by.position, by.amount) == (D("-0.120"), D("0.342633720"))  # x 28552.81 x 1e-4
        # the venue says it paid the short twice that
        row = bybit_statement("BTCUSDT", settle + jitter_ms, "0.68526744")
        rig.on_loop(lambda: rig.fy.push_funding(row))

        def said() -> list[str]:
            return [e.text for e in host.snapshot().log if "the venue booked" in e.text]

        parked = ("bybit", "BTCUSDT", settle + jitter_ms)
        eventually(lambda: bool(said()) or parked in eng._venue_funding, timeout_s=5)
        assert said() == [
            f"bybit BTCUSDT funding at {ms_to_iso(settle)}: the venue booked 0.68526744 USDT, "
            "the ledger 0.34263372: the venue's figure is booked; check the position"
        ]
        pos = eng.ledger.position("bybit", "BTCUSDT")
        eventually(lambda: pos.funding == D("0.68526744"), timeout_s=5)  # live: the venue's
    finally:
        host.stop()
