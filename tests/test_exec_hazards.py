"""HAZARDS H7-H11 on the venue side, against the fake exchanges: each test asserts the value
HAZARDS.md gives (one order at the exchange, exposure 0, the exact wire strings)."""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import parse_qs

import msgspec
import pytest

from core.domain.orders import ClientOrderIds
from core.domain.venue import OrderStatus, PositionUnknown
from core.execution.executor import OrderExecutor, Timings
from tests.fake_venues import ENV, Fault, aeventually, intent, running

S = OrderStatus


@pytest.fixture(autouse=True)
def api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


def with_lot(settings, lot: str):  # type: ignore[no-untyped-def]
    spec = settings.instruments["binance_btcusdt"]
    spec = msgspec.structs.replace(spec, lot=Decimal(lot), min_qty=Decimal(lot))
    return msgspec.structs.replace(
        settings, instruments={**settings.instruments, "binance_btcusdt": spec}
    )


# ---------------------------------------------------------------------------- H7
async def test_h7_a_quantity_that_rounds_to_zero_or_off_the_lot_never_reaches_the_exchange(
    settings,
) -> None:
    async with running(settings) as rig:
        rig.router.submit(intent("h7-zero", qty="0"))
        rig.router.submit(intent("h7-half-lot", qty="0.0015"))
        await aeventually(lambda: len(rig.updates) == 2)
        assert {u.client_order_id: u.status for u in rig.updates} == {
            "h7-zero": S.REJECTED,
            "h7-half-lot": S.REJECTED,
        }
        assert rig.last("h7-zero").reason == "binance BTCUSDT: quantity 0 is not > 0"
        assert rig.fb.requests("POST", "/fapi/v1/order") == []


# ---------------------------------------------------------------------------- H8
async def test_h8_six_double_closes_on_a_flat_account_leave_exposure_zero(settings) -> None:
    async with running(settings) as rig:
        for i in range(6):  # take-profit and stop fire together, on both legs
            for kind in ("tp", "sl"):
                rig.router.submit(
                    intent(
                        f"h8-{kind}-bin-{i}",
                        side="sell",
                        qty="0.005",
                        reduce_only=True,
                        purpose="exit",
                    )
                )
                rig.router.submit(
                    intent(
                        f"h8-{kind}-bmx-{i}",
                        "bitmex",
                        "XBTUSD",
                        "buy",
                        "500",
                        reduce_only=True,
                        purpose="exit",
                    )
                )
        await aeventually(lambda: sum(1 for u in rig.updates if u.status.final) == 24)
        assert all(u.filled_qty == 0 for u in rig.updates)
        assert all("reduceOnly=true" in r.body for r in rig.fb.requests("POST", "/fapi/v1/order"))
        assert all(
            json.loads(r.body)["execInst"] == "ReduceOnly"
            for r in rig.fm.requests("POST", "/api/v1/order")
        )
        assert await rig.venues["binance"].position("BTCUSDT") == 0
        assert await rig.venues["bitmex"].position("XBTUSD") == 0
        rig.fm.inject("GET /api/v1/position", Fault(status=503))
        with pytest.raises(PositionUnknown):  # never "0" when the read failed
            await rig.venues["bitmex"].position("XBTUSD")


# ---------------------------------------------------------------------------- H9
async def test_h9_a_timed_out_order_shown_new_150_ms_later_is_not_sent_again(settings) -> None:
    async with running(settings, timeout_ms=400, grace_ms=600) as rig:
        # accepted 150 ms after the client gave up; its REST answer never arrives in time
        rig.fb.inject("POST /fapi/v1/order", Fault(process_after_s=0.55, respond_after_s=3.0))
        rig.router.submit(intent("h9-a"))
        await aeventually(
            lambda: rig.last("h9-a") is not None and rig.last("h9-a").status is S.FILLED, 5.0
        )
        assert next(u.status for u in rig.of("h9-a")) is S.UNKNOWN
        assert len(rig.fb.placed("h9-a")) == 1  # exposure afterwards: one order
        assert len(rig.fb.requests("POST", "/fapi/v1/order")) == 1
        assert [f.qty for f in rig.fills("h9-a")] == [Decimal("0.2")]
        assert rig.fb.positions["BTCUSDT"] == Decimal("0.2")


async def test_h9_without_the_stream_the_order_is_looked_up_not_resent(settings) -> None:
    async with running(settings, timeout_ms=400, grace_ms=300) as rig:
        rig.fb.stream_muted = True
        rig.fb.inject("POST /fapi/v1/order", Fault(process_after_s=0.1, respond_after_s=3.0))
        rig.router.submit(intent("h9-b"))
        await aeventually(
            lambda: rig.last("h9-b") is not None and rig.last("h9-b").status is S.FILLED, 5.0
        )
        assert len(rig.fb.placed("h9-b")) == 1
        assert len(rig.fb.requests("POST", "/fapi/v1/order")) == 1
        assert len(rig.fb.requests("GET", "/fapi/v1/order")) == 1


async def test_h9_a_lost_request_is_resent_once_with_the_same_id(settings) -> None:
    async with running(settings, timeout_ms=400, grace_ms=300) as rig:
        rig.fb.inject("POST /fapi/v1/order", Fault(drop=True, respond_after_s=3.0))
        rig.router.submit(intent("h9-c"))
        await aeventually(
            lambda: rig.last("h9-c") is not None and rig.last("h9-c").status is S.FILLED, 5.0
        )
        posts = rig.fb.requests("POST", "/fapi/v1/order")
        assert len(rig.fb.placed("h9-c")) == 1
        assert len(posts) == 2 and all("newClientOrderId=h9-c" in p.body for p in posts)


async def test_h9_a_bitmex_503_whose_order_shows_up_on_the_stream_is_not_retried(settings) -> None:
    async with running(settings) as rig:
        rig.fm.inject("POST /api/v1/order", Fault(process_after_s=0.15))
        rep = await rig.venues["bitmex"].place_report(
            intent("h9-d", "bitmex", "XBTUSD", "sell", "10000")
        )
        assert rep.status is S.FILLED
        assert len(rig.fm.placed("h9-d")) == 1
        assert len(rig.fm.requests("POST", "/api/v1/order")) == 1


async def test_h9_an_engine_retry_of_a_filled_id_is_looked_up_not_sent(settings) -> None:
    async with running(settings) as rig:
        rig.router.submit(intent("h9-e"))
        await aeventually(
            lambda: rig.last("h9-e") is not None and rig.last("h9-e").status is S.FILLED
        )
        rig.router.submit(intent("h9-e"))  # same logical order, same id
        await aeventually(lambda: len(rig.fb.requests("GET", "/fapi/v1/order")) == 1)
        assert len(rig.fb.requests("POST", "/fapi/v1/order")) == 1
        assert len(rig.fills("h9-e")) == 1


# ---------------------------------------------------------------------------- H10
async def test_h10_quantities_go_out_without_exponents(settings) -> None:
    async with running(with_lot(settings, "0.00001"), start=False) as rig:
        rig.fb.step = Decimal("0.00001")
        await rig.venues["binance"].place_report(intent("h10-a", qty=Decimal("3E-5")))
        body = parse_qs(rig.fb.requests("POST", "/fapi/v1/order")[-1].body)
        assert body["quantity"] == ["0.00003"]
    async with running(with_lot(settings, "0.00000001"), start=False) as rig:
        rig.fb.step = Decimal("0.00000001")
        await rig.venues["binance"].place_report(intent("h10-b", qty=Decimal("1.9E-7")))
        body = parse_qs(rig.fb.requests("POST", "/fapi/v1/order")[-1].body)
        assert body["quantity"] == ["0.00000019"]
        await rig.venues["bitmex"].place_report(
            intent("h10-c", "bitmex", "XBTUSD", "sell", Decimal("1E+4"))
        )
        assert json.loads(rig.fm.requests("POST", "/api/v1/order")[-1].body)["orderQty"] == 10000


async def test_h10_an_id_with_colons_and_dots_is_refused_unsent(settings) -> None:
    async with running(settings, start=False) as rig:
        bad = "strategy:leg:2024-01-01T00:00:00.000Z:1"
        rep = await rig.venues["binance"].place_report(intent(bad))
        assert rep.status is S.REJECTED and "1-36 characters of [A-Za-z0-9_-]" in rep.reason
        assert rig.fb.requests("POST", "/fapi/v1/order") == []
        ids = ClientOrderIds("strategy")
        cid = ids.next("BTC:perp.pair", "binance", "unwind")
        assert len(cid) <= 36 and ":" not in cid and "." not in cid


# ---------------------------------------------------------------------------- H11
async def test_h11_failed_second_leg_and_a_timed_out_unwind_leave_one_open_and_one_unwind(
    settings,
) -> None:
    async with running(settings, timeout_ms=400, grace_ms=300) as rig:
        rig.router.submit(intent("h11-open", "bitmex", "XBTUSD", "sell", "10000"))
        await aeventually(
            lambda: rig.last("h11-open") is not None and rig.last("h11-open").status is S.FILLED
        )
        rig.fb.reject_margin.add("h11-leg2")
        rig.router.submit(intent("h11-leg2", qty="0.2"))
        await aeventually(lambda: rig.last("h11-leg2") is not None)
        assert rig.last("h11-leg2").status is S.REJECTED
        assert "Margin is insufficient" in rig.last("h11-leg2").reason
        # the first unwind attempt times out (the venue took it; the answer is lost)
        rig.fm.stream_delay_s = 1.0
        rig.fm.inject("POST /api/v1/order", Fault(respond_after_s=3.0))
        unwind = intent(
            "h11-unwind", "bitmex", "XBTUSD", "buy", "10000", reduce_only=True, purpose="unwind"
        )
        rig.router.submit(unwind)
        await aeventually(lambda: rig.last("h11-unwind") is not None)
        assert rig.last("h11-unwind").status is S.UNKNOWN
        rig.router.submit(unwind)  # the pair's retry: same id
        await aeventually(lambda: rig.last("h11-unwind").status is S.FILLED, 5.0)
        orders = rig.fm.placed()
        assert [(o.cid, o.side, o.qty, o.exec_inst) for o in orders] == [
            ("h11-open", "Sell", 10000, ""),
            ("h11-unwind", "Buy", 10000, "ReduceOnly"),
        ]
        assert rig.fm.positions["XBTUSD"] == 0 and rig.fb.placed() == []
        assert [f.qty for f in rig.fills("h11-unwind")] == [Decimal(10000)]


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
