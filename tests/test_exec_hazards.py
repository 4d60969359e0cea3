"""HAZARDS H7-H11 on the venue side, against the fake exchanges: each test asserts the value
HAZARDS.md gives (one order at the exchange, exposure 0, the exact wire strings). The Bybit
tests run on both legs: linear BTCUSDT (qty in BTC) and inverse BTCUSD (contracts of 1 USD),
with Bybit's own rules (``reduceOnly``, ``orderLinkId``, retCodes 110017 / 10006 / 10002 /
110072, ``X-Bapi-Limit-*`` headers with the reset in ms)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import parse_qs

import msgspec
import pytest

from core.domain.config import Settings
from core.domain.orders import CLIENT_ID_RE, ClientOrderIds, run_tag
from core.domain.venue import OrderStatus, PositionUnknown
from core.execution.executor import OrderExecutor, Timings
from tests.fake_venues import ENV, Fault, aeventually, default_settings, intent, running
from tests.fake_venues.bybit import REDUCE_ONLY_TEXTS

S = OrderStatus
CREATE = "/v5/order/create"


@dataclass(frozen=True)
class Leg:
    """One Bybit leg: symbol, the config's instrument id, a full size and a small close."""

    kind: str
    symbol: str
    instrument: str
    size: str
    close: str
    off_lot: str


LINEAR = Leg("linear", "BTCUSDT", "bybit_btcusdt", "0.2", "0.005", "0.0015")
INVERSE = Leg("inverse", "BTCUSD", "bybit_btcusd", "10000", "500", "10.5")
LEGS = pytest.mark.parametrize("leg", [LINEAR, INVERSE], ids=["linear", "inverse"])


@pytest.fixture(autouse=True)
def api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


@pytest.fixture
def settings() -> Settings:
    """The shipped config: Binance BTCUSDT, Bybit BTCUSDT and BTCUSD."""
    return default_settings()


def with_lot(settings: Settings, instrument: str, lot: str) -> Settings:
    spec = settings.instruments[instrument]
    spec = msgspec.structs.replace(spec, lot=Decimal(lot), min_qty=Decimal(lot))
    return msgspec.structs.replace(settings, instruments={**settings.instruments, instrument: spec})


def posts(rig) -> list[dict]:  # type: ignore[no-untyped-def]
    return [json.loads(r.body) for r in rig.fy.requests("POST", CREATE)]


def bybit(cid: str, leg: Leg, side: str = "buy", qty: str | None = None, **kw):  # type: ignore[no-untyped-def]
    return intent(cid, "bybit", leg.symbol, side, qty or leg.size, **kw)  # type: ignore[arg-type]


def filled(rig, cid: str) -> bool:  # type: ignore[no-untyped-def]
    last = rig.last(cid)
    return last is not None and last.status is S.FILLED


# ---------------------------------------------------------------------------- H7
@LEGS
async def test_h7_a_quantity_that_rounds_to_zero_or_off_the_lot_never_reaches_the_exchange(
    settings, leg
) -> None:
    async with running(settings) as rig:
        rig.router.submit(intent("h7-zero", qty="0"))
        rig.router.submit(intent("h7-half-lot", qty="0.0015"))
        rig.router.submit(bybit("h7-by-zero", leg, qty="0"))
        rig.router.submit(bybit("h7-by-off", leg, qty=leg.off_lot))
        await aeventually(lambda: len(rig.updates) == 4)
        assert {u.client_order_id: u.status for u in rig.updates} == {
            "h7-zero": S.REJECTED,
            "h7-half-lot": S.REJECTED,
            "h7-by-zero": S.REJECTED,
            "h7-by-off": S.REJECTED,
        }
        assert rig.last("h7-zero").reason == "binance BTCUSDT: quantity 0 is not > 0"
        assert rig.last("h7-by-zero").reason == f"bybit {leg.symbol}: quantity 0 is not > 0"
        lot = settings.instruments[leg.instrument].lot
        assert rig.last("h7-by-off").reason == (
            f"bybit {leg.symbol}: quantity {leg.off_lot} is not a whole number of lots ({lot})"
        )
        assert rig.fb.requests("POST", "/fapi/v1/order") == []
        assert rig.fy.requests("POST", CREATE) == []


@LEGS
async def test_h7_a_reduce_only_close_of_a_one_lot_residual_is_sent(settings, leg) -> None:
    async with running(settings) as rig:
        lot = settings.instruments[leg.instrument].lot
        rig.fy.positions[leg.symbol] = lot  # a residual below any notional minimum
        rep = await rig.venues["bybit"].place_report(
            bybit("h7-resid", leg, "sell", str(lot), reduce_only=True, purpose="exit")
        )
        assert rep.status is S.FILLED and rep.filled_qty == lot
        assert rig.fy.positions[leg.symbol] == 0


# ---------------------------------------------------------------------------- H8
@LEGS
@pytest.mark.parametrize("text", REDUCE_ONLY_TEXTS, ids=["bybit-table", "ccxt-comment"])
async def test_h8_six_double_closes_on_a_flat_account_leave_exposure_zero(
    settings, leg, text
) -> None:
    async with running(settings) as rig:
        rig.fy.reduce_only_text = text
        for i in range(6):  # take-profit and stop fire together, on both legs
            for kind in ("tp", "sl"):
                rig.router.submit(
                    intent(f"h8-{kind}-bin-{i}", side="sell", qty="0.005", reduce_only=True)
                )
                rig.router.submit(
                    bybit(f"h8-{kind}-byb-{i}", leg, "buy", leg.close, reduce_only=True)
                )
        await aeventually(lambda: sum(1 for u in rig.updates if u.status.final) == 24)
        assert all(u.filled_qty == 0 for u in rig.updates)
        assert all(u.status is S.REJECTED for u in rig.updates)
        by = [u for u in rig.updates if u.venue == "bybit"]
        assert all(u.reason.startswith(f"bybit 110017: {text} (reduce-only") for u in by)
        assert all("reduceOnly=true" in r.body for r in rig.fb.requests("POST", "/fapi/v1/order"))
        sent = posts(rig)
        assert len(sent) == 12
        assert all(p["reduceOnly"] is True and p["positionIdx"] == 0 for p in sent)
        assert rig.fy.placed() == []
        assert await rig.venues["binance"].position("BTCUSDT") == 0
        assert await rig.venues["bybit"].position(leg.symbol) == 0
        rig.fy.inject(
            "GET /v5/position/list",
            Fault(body={"retCode": 10016, "retMsg": "System error. Please try again later."}),
        )
        with pytest.raises(PositionUnknown):  # never "0" when the read failed
            await rig.venues["bybit"].position(leg.symbol)


# ---------------------------------------------------------------------------- H9
@LEGS
async def test_h9_a_timed_out_order_shown_new_150_ms_later_is_not_sent_again(settings, leg) -> None:
    async with running(settings, timeout_ms=400, grace_ms=600) as rig:
        # accepted 150 ms after the client gave up; its REST answer never arrives in time
        rig.fy.inject(f"POST {CREATE}", Fault(process_after_s=0.55, respond_after_s=3.0))
        rig.router.submit(bybit("h9-a", leg))
        await aeventually(lambda: filled(rig, "h9-a"), 5.0)
        assert next(u.status for u in rig.of("h9-a")) is S.UNKNOWN
        assert len(rig.fy.placed("h9-a")) == 1  # exposure afterwards: one order
        assert len(rig.fy.requests("POST", CREATE)) == 1
        assert [f.qty for f in rig.fills("h9-a")] == [Decimal(leg.size)]
        assert rig.fy.positions[leg.symbol] == Decimal(leg.size)


@LEGS
async def test_h9_without_the_stream_the_order_is_looked_up_not_resent(settings, leg) -> None:
    async with running(settings, timeout_ms=400, grace_ms=300) as rig:
        rig.fy.stream_muted = True
        rig.fy.inject(f"POST {CREATE}", Fault(process_after_s=0.1, respond_after_s=3.0))
        rig.router.submit(bybit("h9-b", leg))
        await aeventually(lambda: filled(rig, "h9-b"), 5.0)
        assert len(rig.fy.placed("h9-b")) == 1
        assert len(rig.fy.requests("POST", CREATE)) == 1
        looked = rig.fy.requests("GET", "/v5/order/realtime")
        assert looked and "orderLinkId=h9-b" in looked[-1].query


@LEGS
async def test_h9_a_lost_request_is_resent_once_with_the_same_id(settings, leg) -> None:
    async with running(settings, timeout_ms=400, grace_ms=300) as rig:
        rig.fy.inject(f"POST {CREATE}", Fault(drop=True, respond_after_s=3.0))
        rig.router.submit(bybit("h9-c", leg))
        await aeventually(lambda: filled(rig, "h9-c"), 5.0)
        assert len(rig.fy.placed("h9-c")) == 1
        assert [p["orderLinkId"] for p in posts(rig)] == ["h9-c", "h9-c"]


@LEGS
async def test_h9_a_10006_rate_limit_waits_for_the_reset_ms_and_resends_the_same_id(
    settings, leg
) -> None:
    async with running(settings) as rig:
        reset_ms = int(time.time() * 1000) + 800
        rig.fy.inject(
            f"POST {CREATE}",
            Fault(
                body={"retCode": 10006, "retMsg": "Too many visits!"},
                headers={
                    "X-Bapi-Limit": "10",
                    "X-Bapi-Limit-Status": "0",
                    "X-Bapi-Limit-Reset-Timestamp": str(reset_ms),
                },
            ),
        )
        rep = await rig.venues["bybit"].place_report(bybit("h9-rl", leg))
        sent = rig.fy.requests("POST", CREATE)
        assert rep.status is S.FILLED and len(rig.fy.placed("h9-rl")) == 1
        assert [json.loads(p.body)["orderLinkId"] for p in sent] == ["h9-rl", "h9-rl"]
        assert sent[1].ts - sent[0].ts >= 0.6  # held until the reset (ms), not 1 s flat
        assert "X-Bapi-Limit-Status 0 of 10" in rig.venues["bybit"].limiter.reason


@LEGS
async def test_h9_a_10002_clock_refusal_resyncs_and_resends_the_same_id(settings, leg) -> None:
    async with running(settings) as rig:
        rig.fy.clock_skew_ms = 20_000  # the venue's clock runs 20 s ahead of ours
        rep = await rig.venues["bybit"].place_report(bybit("h9-clk", leg))
        sent = rig.fy.requests("POST", CREATE)
        assert rep.status is S.FILLED and len(rig.fy.placed("h9-clk")) == 1
        assert [json.loads(p.body)["orderLinkId"] for p in sent] == ["h9-clk", "h9-clk"]
        assert len(rig.fy.requests("GET", "/v5/market/time")) == 2  # start-up and resync


@LEGS
async def test_h9_a_duplicate_order_link_id_is_looked_up_as_already_placed(settings, leg) -> None:
    async with running(settings) as rig:
        rig.fy.partial["h9-dup"] = [Decimal(leg.close), Decimal(leg.close)]
        rig.fy.partial_every_s = 5.0
        venue = rig.venues["bybit"]
        first = await venue.place_report(bybit("h9-dup", leg, qty=str(2 * Decimal(leg.close))))
        again = await venue.place_report(bybit("h9-dup", leg, qty=str(2 * Decimal(leg.close))))
        assert first.status is S.PARTIALLY_FILLED
        assert again.status is S.PARTIALLY_FILLED and again.filled_qty == Decimal(leg.close)
        assert len(rig.fy.placed("h9-dup")) == 1 and len(posts(rig)) == 2


@LEGS
async def test_h9_an_engine_retry_of_a_filled_id_is_looked_up_not_sent(settings, leg) -> None:
    async with running(settings) as rig:
        rig.router.submit(bybit("h9-e", leg))
        await aeventually(lambda: filled(rig, "h9-e"))
        looked = len(rig.fy.requests("GET", "/v5/order/realtime"))
        rig.router.submit(bybit("h9-e", leg))  # same logical order, same id
        await aeventually(lambda: len(rig.fy.requests("GET", "/v5/order/realtime")) > looked)
        assert len(rig.fy.requests("POST", CREATE)) == 1
        assert len(rig.fills("h9-e")) == 1


# ---------------------------------------------------------------------------- H10
async def test_h10_quantities_go_out_without_exponents(settings) -> None:
    async with running(with_lot(settings, "binance_btcusdt", "0.00001"), start=False) as rig:
        rig.fb.step = Decimal("0.00001")
        await rig.venues["binance"].place_report(intent("h10-a", qty=Decimal("3E-5")))
        body = parse_qs(rig.fb.requests("POST", "/fapi/v1/order")[-1].body)
        assert body["quantity"] == ["0.00003"]
    tiny = with_lot(settings, "bybit_btcusdt", "0.00000001")
    async with running(tiny, start=False) as rig:
        lot = rig.fy.instruments["linear"]["result"]["list"][0]["lotSizeFilter"]
        lot.update({"qtyStep": "0.00000001", "minOrderQty": "0.00000001"})
        venue = rig.venues["bybit"]
        await venue.place_report(intent("h10-b", "bybit", "BTCUSDT", qty=Decimal("1.9E-7")))
        await venue.place_report(intent("h10-c", "bybit", "BTCUSD", "sell", Decimal("1E+4")))
        qty = [p["qty"] for p in posts(rig)]
        assert qty == ["0.00000019", "10000"]
        assert not any("e" in q.lower() for q in qty)
    async with running(settings, start=False) as rig:
        sum_qty = Decimal("0.1") + Decimal("0.2")
        await rig.venues["bybit"].place_report(intent("h10-d", "bybit", "BTCUSDT", qty=sum_qty))
        assert posts(rig)[-1]["qty"] in ("0.3", "0.300")
        assert rig.fy.positions["BTCUSDT"] == Decimal("0.3")


async def test_h10_an_id_with_colons_and_dots_is_refused_unsent(settings) -> None:
    async with running(settings, start=False) as rig:
        bad = "strategy:leg:2024-01-01T00:00:00.000Z:1"
        for venue, symbol in (("binance", "BTCUSDT"), ("bybit", "BTCUSDT"), ("bybit", "BTCUSD")):
            rep = await rig.venues[venue].place_report(intent(bad, venue, symbol, qty="1"))
            assert rep.status is S.REJECTED and "1-36 characters of [A-Za-z0-9_-]" in rep.reason
        assert rig.fb.requests("POST", "/fapi/v1/order") == []
        assert rig.fy.requests("POST", CREATE) == []
        # the longest id the engine makes fits Bybit's orderLinkId rule and is accepted
        ids = ClientOrderIds("strategy", run_tag(2**40))
        cid = ids.next("BTC:perp.pair-long", "bybit", "unwind")
        assert len(cid) == 36 and CLIENT_ID_RE.match(cid)
        rep = await rig.venues["bybit"].place_report(intent(cid, "bybit", "BTCUSD", qty="100"))
        assert rep.status is S.FILLED and posts(rig)[-1]["orderLinkId"] == cid


# ---------------------------------------------------------------------------- H11
@LEGS
async def test_h11_failed_second_leg_and_a_timed_out_unwind_leave_one_open_and_one_unwind(
    settings, leg
) -> None:
    async with running(settings, timeout_ms=400, grace_ms=300) as rig:
        rig.router.submit(bybit("h11-open", leg, "sell"))
        await aeventually(lambda: filled(rig, "h11-open"))
        rig.fb.reject_margin.add("h11-leg2")
        rig.router.submit(intent("h11-leg2", qty="0.2"))
        await aeventually(lambda: rig.last("h11-leg2") is not None)
        assert rig.last("h11-leg2").status is S.REJECTED
        assert "Margin is insufficient" in rig.last("h11-leg2").reason
        # the first unwind attempt times out (the venue took it; the answer is lost)
        rig.fy.stream_delay_s = 1.0
        rig.fy.inject(f"POST {CREATE}", Fault(respond_after_s=3.0))
        unwind = bybit("h11-unwind", leg, "buy", reduce_only=True, purpose="unwind")
        rig.router.submit(unwind)
        await aeventually(lambda: rig.last("h11-unwind") is not None)
        assert rig.last("h11-unwind").status is S.UNKNOWN
        rig.router.submit(unwind)  # the pair's retry: same id
        await aeventually(lambda: filled(rig, "h11-unwind"), 5.0)
        orders = rig.fy.placed()
        assert [(o.cid, o.side, o.qty, o.reduce_only) for o in orders] == [
            ("h11-open", "Sell", Decimal(leg.size), False),
            ("h11-unwind", "Buy", Decimal(leg.size), True),
        ]
        assert rig.fy.positions[leg.symbol] == 0 and rig.fb.placed() == []
        assert [f.qty for f in rig.fills("h11-unwind")] == [Decimal(leg.size)]
        assert {p["orderLinkId"] for p in posts(rig)} == {"h11-open", "h11-unwind"}


async def test_an_order_that_stays_unknown_raises_an_alert_and_is_never_sent_blind(
    settings,
) -> None:
    async with running(settings, timeout_ms=300, grace_ms=200, budget_s=1.0) as rig:
        rig.fb.inject("POST /fapi/v1/order", Fault(drop=True, respond_after_s=3.0))
        rig.fb.inject(
            "GET /fapi/v1/order",
            Fault(
                status=500,
                body={"code": -1001, "msg": "Internal error; unable to process your request."},
            ),
            times=50,
        )
        executor = OrderExecutor(
            rig.venues,
            rig.router.book,
            timings=Timings(unknown_grace_s=0.2, resolve_budget_s=1.0),
            on_alert=rig.alerts.append,
        )
        await executor.execute(intent("h9-f"))
        assert rig.router.book.get("h9-f").status is S.UNKNOWN
        assert len(rig.fb.requests("POST", "/fapi/v1/order")) == 1
        assert rig.alerts and "h9-f: status still unknown after 1 s" in rig.alerts[0]
