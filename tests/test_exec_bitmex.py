"""BitMEX through ccxt against the fake exchange: contracts, execInst, 503 retries with the same
clOrdID, rate-limit headers, the private tables (funding rows are not fills), start-up checks."""

from __future__ import annotations

import itertools
import json
from decimal import Decimal

import pytest

from core.domain.venue import OrderStatus
from core.venues.ccxt_base import VenueStartError
from tests.conftest import DATA
from tests.fake_venues import ENV, Fault, aeventually, intent, running

S = OrderStatus


@pytest.fixture(autouse=True)
def api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


def posted(rig, n: int = -1) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(rig.fm.requests("POST", "/api/v1/order")[n].body)


async def test_an_inverse_order_goes_out_in_usd_contracts_and_fills_with_xbt_fees(settings) -> None:
    async with running(settings) as rig:
        rig.router.submit(intent("arb-BTC-bit-en-0000002", "bitmex", "XBTUSD", "sell", "10000"))
        await aeventually(
            lambda: (
                rig.last("arb-BTC-bit-en-0000002") is not None
                and rig.last("arb-BTC-bit-en-0000002").status is S.FILLED
            )
        )
        assert posted(rig) == {
            "symbol": "XBTUSD",
            "side": "Sell",
            "orderQty": 10000,
            "ordType": "Market",
            "clOrdID": "arb-BTC-bit-en-0000002",
        }
        (fill,) = rig.fills("arb-BTC-bit-en-0000002")
        assert (fill.qty, fill.price, fill.fee_currency) == (Decimal(10000), Decimal(50000), "XBT")
        # taker 0.075 % of 10,000 / 50,000 XBT = 0.00015 XBT (15,000 XBt)
        assert fill.fee == Decimal("0.00015")
        assert await rig.venues["bitmex"].position("XBTUSD") == Decimal(-10000)


async def test_linear_xbtusdt_trades_lots_of_1000_and_refuses_a_part_lot_unsent(settings) -> None:
    async with running(settings) as rig:
        venue = rig.venues["bitmex"]
        ok = await venue.place_report(intent("c-usdt-1", "bitmex", "XBTUSDT", "buy", "200000"))
        small = await venue.place_report(intent("c-usdt-2", "bitmex", "XBTUSDT", "buy", "500"))
        assert ok.status is S.FILLED and posted(rig)["orderQty"] == 200000  # 0.2 BTC (H6)
        assert small.status is S.REJECTED
        assert small.reason == "bitmex XBTUSDT: quantity 500 is not a whole number of lots (1000)"
        assert len(rig.fm.requests("POST", "/api/v1/order")) == 1


async def test_reduce_only_goes_out_as_execinst_and_cannot_open(settings) -> None:
    async with running(settings) as rig:
        rep = await rig.venues["bitmex"].place_report(
            intent("c-bro", "bitmex", "XBTUSD", "buy", "10000", reduce_only=True, purpose="kill")
        )
        assert posted(rig)["execInst"] == "ReduceOnly"
        assert rep.status is S.CANCELLED and rep.filled_qty == 0
        assert rig.fm.positions.get("XBTUSD", 0) == 0


async def test_a_503_is_retried_after_half_a_second_with_the_same_clordid(settings) -> None:
    async with running(settings) as rig:
        rig.fm.inject("POST /api/v1/order", Fault(status=503), times=2)
        rep = await rig.venues["bitmex"].place_report(
            intent("c-503", "bitmex", "XBTUSD", "sell", "10000")
        )
        posts = rig.fm.requests("POST", "/api/v1/order")
        assert rep.status is S.FILLED and len(rig.fm.placed("c-503")) == 1
        assert [json.loads(p.body)["clOrdID"] for p in posts] == ["c-503"] * 3
        assert all(b.ts - a.ts >= 0.5 for a, b in itertools.pairwise(posts))


async def test_an_exhausted_rate_limit_holds_every_call_until_the_reset_second(settings) -> None:
    async with running(settings) as rig:
        rig.fm.remaining, rig.fm.reset_in_s = 1, 1  # the next answer says remaining 0
        await rig.venues["bitmex"].position("XBTUSD")
        t0 = rig.fm.log[-1].ts
        await rig.venues["bitmex"].place_report(intent("c-rl", "bitmex", "XBTUSD", "buy", "100"))
        assert rig.fm.requests("POST", "/api/v1/order")[0].ts - t0 >= 0.5
        assert rig.venues["bitmex"].limiter.blocks >= 1


async def test_a_duplicate_clordid_is_looked_up_as_already_placed(settings) -> None:
    async with running(settings) as rig:
        rig.fm.partial["c-bdup"] = [5000, 5000]
        rig.fm.partial_every_s = 5.0
        venue = rig.venues["bitmex"]
        await venue.place_report(intent("c-bdup", "bitmex", "XBTUSD", "sell", "10000"))
        again = await venue.place_report(intent("c-bdup", "bitmex", "XBTUSD", "sell", "10000"))
        assert again.status is S.PARTIALLY_FILLED and again.filled_qty == 5000
        assert len(rig.fm.placed("c-bdup")) == 1


async def test_a_funding_row_on_the_execution_table_changes_no_order(settings) -> None:
    async with running(settings) as rig:
        rig.router.submit(intent("c-fund", "bitmex", "XBTUSD", "buy", "10000"))
        stream = rig.venues["bitmex"].stream
        await aeventually(lambda: rig.router.book.get("c-fund").exec_ids != set())
        n_updates, skipped = len(rig.updates), stream.skipped_executions
        row = json.loads((DATA / "bitmex_execution_rows.json").read_text())["funding"]
        rig.fm.push_execution(row)  # lastQty 10000, ordStatus Filled, execType Funding
        await aeventually(lambda: stream.skipped_executions == skipped + 1)
        assert len(rig.updates) == n_updates
        assert rig.router.book.get("c-fund").filled_qty == Decimal(10000)


async def test_an_account_in_hedge_mode_is_refused_at_start_up(settings) -> None:
    async with running(settings, start=False) as rig:
        rig.fm.hedged = True
        with pytest.raises(VenueStartError, match="bitmex: the account is in Hedge Mode"):
            await rig.venues["bitmex"].start()


async def test_the_wallet_balance_arrives_in_xbt_from_satoshis(settings) -> None:
    async with running(settings) as rig:
        rig.fm.wallet_xbt_sat = 50_000_000
        assert await rig.venues["bitmex"].balance("XBT") == Decimal("0.5")


async def test_cancelling_an_open_order_and_cancel_all(settings) -> None:
    async with running(settings) as rig:
        rig.fm.partial["c-can"] = [100, 100]
        rig.fm.partial_every_s = 5.0
        venue = rig.venues["bitmex"]
        await venue.place(intent("c-can", "bitmex", "XBTUSD", "buy", "200"))
        upd = await venue.cancel("XBTUSD", "c-can")
        assert (upd.status, upd.filled_qty) == (S.CANCELLED, Decimal(100))
        rig.fm.partial["c-can2"] = [100, 100]
        await venue.place(intent("c-can2", "bitmex", "XBTUSD", "buy", "200"))
        await venue.cancel_all("XBTUSD")
        assert rig.fm.placed("c-can2")[0].status == "Canceled"
