"""Bybit v5 through ccxt ``bybit`` against the fake Bybit account: wire fields of linear and
inverse orders, fees in USDT and BTC, start-up checks (one-way mode, lot), environments,
rejections by retCode, the private stream (auth, ping, funding executions booked as funding,
gaps), and secrets kept out of every text. ccxt itself is used as shipped."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import ccxt.async_support as ccxt_async
import msgspec
import pytest

from core.domain.config import Settings
from core.domain.venue import OrderStatus
from core.execution.limits import VenueLimiter
from core.execution.state import OrderBook
from core.venues.bybit.execution import DEMO_WS, PROD_WS, BybitVenue
from core.venues.ccxt_base import VenueError, VenueStartError
from tests.conftest import DATA
from tests.fake_venues import ENV, KEYS, Fault, aeventually, default_settings, intent, running

S = OrderStatus
CREATE = "/v5/order/create"


@pytest.fixture(autouse=True)
def api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


@pytest.fixture
def settings() -> Settings:
    return default_settings()


def posted(rig, n: int = -1) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(rig.fy.requests("POST", CREATE)[n].body)


def filled(rig, cid: str) -> bool:  # type: ignore[no-untyped-def]
    last = rig.last(cid)
    return last is not None and last.status is S.FILLED


async def test_a_linear_market_order_goes_out_with_bybits_own_fields_and_fills(settings) -> None:
    async with running(settings) as rig:
        rig.router.submit(intent("arb-BTC-byb-en-0000001", "bybit", "BTCUSDT", "buy", "0.2"))
        await aeventually(lambda: filled(rig, "arb-BTC-byb-en-0000001"))
        assert posted(rig) == {
            "symbol": "BTCUSDT",
            "side": "Buy",
            "orderType": "Market",
            "orderLinkId": "arb-BTC-byb-en-0000001",
            "category": "linear",
            "qty": "0.2",
            "positionIdx": 0,
            "reduceOnly": False,
        }
        req = rig.fy.requests("POST", CREATE)[-1]
        assert req.headers["X-BAPI-API-KEY"] == KEYS["bybit"][0]
        assert req.headers["X-BAPI-RECV-WINDOW"] == str(rig.settings.venues.bybit.recv_window_ms)
        (fill,) = rig.fills("arb-BTC-byb-en-0000001")
        # taker 0.055 % of 0.2 x 50,000 = 5.5 USDT, the venue's own execFee
        assert (fill.qty, fill.price, fill.fee, fill.fee_currency) == (
            Decimal("0.2"),
            Decimal("50000"),
            Decimal("5.5"),
            "USDT",
        )
        assert await rig.venues["bybit"].position("BTCUSDT") == Decimal("0.2")


async def test_an_inverse_order_goes_out_in_usd_contracts_and_pays_its_fee_in_btc(
    settings,
) -> None:
    async with running(settings) as rig:
        rig.router.submit(intent("c-inv", "bybit", "BTCUSD", "sell", "10000"))
        await aeventually(lambda: filled(rig, "c-inv"))
        body = posted(rig)
        assert (body["category"], body["symbol"], body["qty"], body["side"]) == (
            "inverse",
            "BTCUSD",
            "10000",
            "Sell",
        )
        (fill,) = rig.fills("c-inv")
        # 10,000 USD at 50,000 is 0.2 BTC; taker 0.055 % of it = 0.00011 BTC
        assert (fill.qty, fill.fee, fill.fee_currency) == (
            Decimal(10000),
            Decimal("0.00011"),
            "BTC",
        )
        assert await rig.venues["bybit"].position("BTCUSD") == Decimal(-10000)
        assert await rig.venues["bybit"].balance("BTC") == Decimal("0.5")


async def test_an_account_in_hedge_mode_is_refused_at_start_up_with_the_way_out(settings) -> None:
    async with running(settings, start=False) as rig:
        rig.fy.hedged = True
        with pytest.raises(
            VenueStartError,
            match=r"bybit: the account is in Hedge Mode \(BTCUSDT positionIdx 1, 2\); arbtui "
            r"trades one-way only \(positionIdx 0\).*POST /v5/position/switch-mode mode=0",
        ):
            await rig.venues["bybit"].start()


async def test_a_lot_that_disagrees_with_instruments_info_is_refused_at_start_up(settings) -> None:
    spec = settings.instruments["bybit_btcusd"]
    bad = msgspec.structs.replace(
        settings,
        instruments={
            **settings.instruments,
            "bybit_btcusd": msgspec.structs.replace(spec, lot=Decimal(10)),
        },
    )
    async with running(bad, start=False) as rig:
        with pytest.raises(
            VenueStartError, match=r"bybit BTCUSD: configured lot 10 but instruments-info qtyStep"
        ):
            await rig.venues["bybit"].start()


def test_demo_is_the_default_and_production_is_by_config(settings) -> None:
    book = OrderBook({})
    demo = BybitVenue(settings.venues.bybit, {}, book, VenueLimiter("bybit"))
    assert settings.venues.bybit.env == "demo"
    host = demo.client.implode_hostname
    assert host(demo.client.urls["api"]["private"]) == "https://api-demo.bybit.com"
    assert demo.ws_url == DEMO_WS == "wss://stream-demo.bybit.com/v5/private"
    prod_cfg = msgspec.structs.replace(settings.venues.bybit, env="production")
    prod = BybitVenue(prod_cfg, {}, book, VenueLimiter("bybit"))
    assert prod.client.implode_hostname(prod.client.urls["api"]["private"]) == (
        "https://api.bybit.com"
    )
    assert prod.ws_url == PROD_WS == "wss://stream.bybit.com/v5/private"
    assert type(demo.client) is ccxt_async.bybit  # ccxt as shipped: nothing mixed in
    for name in ("fetch2", "parse_json", "handle_errors", "fetch", "sign"):
        assert getattr(type(demo.client), name) is getattr(ccxt_async.bybit, name)


def test_keys_come_only_from_the_environment(settings, monkeypatch) -> None:
    monkeypatch.delenv("ARBTUI_BYBIT_SECRET")
    with pytest.raises(VenueStartError, match="bybit: set ARBTUI_BYBIT_SECRET in the environment"):
        BybitVenue(settings.venues.bybit, {}, OrderBook({}), VenueLimiter("bybit"))


async def test_a_balance_refusal_carries_bybits_code_and_text(settings) -> None:
    async with running(settings) as rig:
        rig.fy.reject_margin.add("c-margin")
        rig.router.submit(intent("c-margin", "bybit", "BTCUSD", "buy", "100"))
        await aeventually(lambda: rig.last("c-margin") is not None)
        upd = rig.last("c-margin")
        assert upd.status is S.REJECTED
        assert upd.reason == "bybit 110007: ab not enough for new order"
        assert rig.fy.placed() == []


async def test_an_ip_ban_403_refuses_every_order_unsent_while_it_lasts(settings) -> None:
    async with running(settings) as rig:
        rig.fy.inject(f"POST {CREATE}", Fault(status=403, body="access too frequent"))
        venue = rig.venues["bybit"]
        first = await venue.place_report(intent("c-403a", "bybit", "BTCUSDT", qty="0.001"))
        second = await venue.place_report(intent("c-403b", "bybit", "BTCUSDT", qty="0.001"))
        assert first.status is S.REJECTED and "403" in first.reason
        assert second.status is S.REJECTED and "not sent" in second.reason
        assert len(rig.fy.requests("POST", CREATE)) == 1 and rig.fy.placed() == []


@pytest.mark.parametrize(
    ("symbol", "qty", "settle"), [("BTCUSDT", "0.093", "USDT"), ("BTCUSD", "5000", "BTC")]
)
async def test_a_funding_execution_on_the_stream_is_booked_as_funding_not_as_a_fill(
    settings, symbol, qty, settle
) -> None:
    async with running(settings) as rig:
        rig.router.submit(intent("c-fund", "bybit", symbol, "buy", qty))
        await aeventually(lambda: filled(rig, "c-fund"))
        n_updates = len(rig.updates)
        frame = json.loads(
            (DATA / "bybit" / "private_ws_nautilus_execution_funding_handmade.json").read_text()
        )
        row = dict(frame["data"][0], symbol=symbol, execQty=qty, feeCurrency="")
        if settle == "BTC":  # the inverse leg pays in the coin: 5,000 / 80,626.2 x 0.0001
            row.update({"category": "inverse", "execFee": "0.0000062015", "execValue": "0.062"})
        rig.fy.push_funding(row)
        book = rig.router.book
        await aeventually(lambda: len(book.funding) == 1)
        (f,) = book.funding
        assert (f.symbol, f.position, f.rate, f.currency) == (
            symbol,
            Decimal(qty),
            Decimal("0.0001"),
            settle,
        )
        assert f.amount == -Decimal(row["execFee"]) < 0  # execFee > 0: paid
        rig.fy.push_funding(row)  # the same execId again: booked once
        await aeventually(lambda: rig.venues["bybit"].stream.messages >= 1)
        assert len(rig.updates) == n_updates  # no order update, no fill
        assert book.get("c-fund").filled_qty == Decimal(qty)  # type: ignore[union-attr]
        assert len(book.funding) == 1


async def test_the_private_stream_authenticates_subscribes_and_pings(settings) -> None:
    base = msgspec.structs.replace(
        settings,
        venues=msgspec.structs.replace(
            settings.venues,
            bybit=msgspec.structs.replace(settings.venues.bybit, ping_s=0.1),
        ),
    )
    async with running(base) as rig:
        stream = rig.venues["bybit"].stream
        assert stream.connected.is_set() and stream.connects == 1
        await aeventually(lambda: rig.fy.pings >= 3, 3.0)
        assert stream.connects == 1  # the pongs keep it
        rig.router.submit(intent("c-pos", "bybit", "BTCUSDT", "sell", "0.1"))
        await aeventually(lambda: stream.positions.get("BTCUSDT") == Decimal("-0.1"))


async def test_a_private_socket_whose_pongs_stop_is_replaced(settings) -> None:
    base = msgspec.structs.replace(
        settings,
        venues=msgspec.structs.replace(
            settings.venues,
            bybit=msgspec.structs.replace(settings.venues.bybit, ping_s=0.1),
        ),
    )
    async with running(base) as rig:
        stream = rig.venues["bybit"].stream
        rig.fy.answer_pings = False  # alive at TCP level, answers nothing
        await aeventually(lambda: stream.connects >= 2, 5.0)
        rig.fy.answer_pings = True


async def test_a_refused_stream_auth_is_logged_without_the_keys_and_retried(
    settings, caplog
) -> None:
    caplog.set_level(logging.WARNING)
    async with running(settings) as rig:
        stream = rig.venues["bybit"].stream
        rig.fy.secret = "rotated-secret"  # the socket's next auth is refused
        await rig.fy.drop_sockets()
        await aeventually(lambda: rig.fy.auth_attempts >= 3, 5.0)
        assert stream.connects == 1 and not stream.connected.is_set()
        assert "bybit private stream auth refused: Invalid apikey" in caplog.text
        for secret in KEYS["bybit"]:
            assert secret not in caplog.text


async def test_fills_missed_while_the_stream_was_down_are_read_after_reconnect(settings) -> None:
    async with running(settings) as rig:
        rig.fy.partial["c-gap"] = [Decimal("0.1"), Decimal("0.1")]
        rig.fy.partial_every_s = 0.3
        rig.router.submit(intent("c-gap", "bybit", "BTCUSDT", "buy", "0.2"))
        await aeventually(
            lambda: rig.last("c-gap") is not None and rig.last("c-gap").status is S.PARTIALLY_FILLED
        )
        rig.fy.stream_muted = rig.fy.ws_refused = True
        await rig.fy.drop_sockets()
        await aeventually(lambda: rig.fy.placed("c-gap")[0].status == "Filled")
        rig.fy.stream_muted = rig.fy.ws_refused = False
        await aeventually(lambda: filled(rig, "c-gap"), 5.0)
        assert [f.qty for f in rig.fills("c-gap")] == [Decimal("0.1"), Decimal("0.1")]
        assert rig.venues["bybit"].stream.connects == 2


async def test_cancelling_an_open_order_and_cancel_all(settings) -> None:
    async with running(settings) as rig:
        rig.fy.partial["c-can"] = [Decimal(100), Decimal(100)]
        rig.fy.partial_every_s = 5.0
        venue = rig.venues["bybit"]
        await venue.place(intent("c-can", "bybit", "BTCUSD", "buy", "200"))
        upd = await venue.cancel("BTCUSD", "c-can")
        assert (upd.status, upd.filled_qty) == (S.CANCELLED, Decimal(100))
        rig.fy.partial["c-can2"] = [Decimal(100), Decimal(100)]
        await venue.place(intent("c-can2", "bybit", "BTCUSD", "buy", "200"))
        await venue.cancel_all("BTCUSD")
        assert rig.fy.placed("c-can2")[0].status == "PartiallyFilledCanceled"
        assert rig.fy.requests("POST", "/v5/order/cancel-all")
        gone = await venue.query("BTCUSD", "never-sent")
        assert gone.status is S.REJECTED and gone.reason == "not found at bybit"


async def test_no_key_or_secret_appears_in_any_error_or_log(settings, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(settings, start=False) as rig:
        rig.fy.secret = "another-secret"  # every signed call and the stream auth now fail
        with pytest.raises(VenueStartError) as start_err:
            await rig.venues["bybit"].start()
        rep = await rig.venues["bybit"].place_report(intent("c-auth", "bybit", "BTCUSDT"))
        with pytest.raises(VenueError) as cancel_err:
            await rig.venues["bybit"].cancel_all("BTCUSDT")
        texts = [str(start_err.value), rep.reason, rep.raw, str(cancel_err.value), caplog.text]
        assert rep.status is S.REJECTED and "10004" in rep.reason
        for text in texts:
            for secret in KEYS["bybit"]:
                assert secret not in text
