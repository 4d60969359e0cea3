"""Binance USD-M through ccxt against the fake exchange: wire fields, start-up checks,
rate limits, rejections, the user data stream, and secrets kept out of every text."""

from __future__ import annotations

import logging
from decimal import Decimal
from urllib.parse import parse_qs

import ccxt.async_support as ccxt_async
import msgspec
import pytest

from core.domain.config import Settings
from core.domain.venue import OrderStatus, PositionUnknown
from core.venues.ccxt_base import VenueError, VenueStartError
from tests.fake_venues import ENV, KEYS, Fault, aeventually, default_settings, intent, running

S = OrderStatus


@pytest.fixture
def settings() -> Settings:
    """The shipped config (Binance BTCUSDT with Bybit)."""
    return default_settings()


@pytest.fixture(autouse=True)
def api_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)


def body_of(rig, n: int = -1) -> dict[str, str]:  # type: ignore[no-untyped-def]
    req = rig.fb.requests("POST", "/fapi/v1/order")[n]
    return {k: v[0] for k, v in parse_qs(req.body).items()}


async def test_a_market_order_goes_out_with_binances_own_fields_and_fills(settings) -> None:
    async with running(settings) as rig:
        qty = Decimal("0.1") + Decimal("0.2")
        rig.router.submit(intent("arb-BTC-bin-en-0000001", qty=qty))
        await aeventually(
            lambda: (
                rig.last("arb-BTC-bin-en-0000001") is not None
                and rig.last("arb-BTC-bin-en-0000001").status is S.FILLED
            )
        )
        b = body_of(rig)
        assert b["quantity"] == "0.300"  # 0.1 + 0.2 on the 0.001 grid, no exponent (H10)
        assert (b["symbol"], b["side"], b["type"]) == ("BTCUSDT", "BUY", "MARKET")
        assert b["reduceOnly"] == "false" and b["newOrderRespType"] == "RESULT"
        assert b["newClientOrderId"] == "arb-BTC-bin-en-0000001"
        fills = rig.fills("arb-BTC-bin-en-0000001")
        assert [(f.qty, f.price) for f in fills] == [(Decimal("0.3"), Decimal("50000.00"))]
        assert await rig.venues["binance"].position("BTCUSDT") == Decimal("0.300")
        assert len(rig.latencies) == 1 and rig.latencies[0] < 0.05


async def test_reduce_only_goes_out_as_reduceonly_true_and_cannot_open(settings) -> None:
    async with running(settings) as rig:
        rep = await rig.venues["binance"].place_report(
            intent("c-ro-1", side="sell", qty="0.2", reduce_only=True, purpose="unwind")
        )
        assert body_of(rig)["reduceOnly"] == "true"
        assert rep.status is S.REJECTED and "-2022" in rep.reason
        assert rig.fb.positions.get("BTCUSDT", 0) == 0


async def test_an_account_in_hedge_mode_is_refused_at_start_up(settings) -> None:
    async with running(settings, start=False) as rig:
        rig.fb.dual = True
        with pytest.raises(VenueStartError, match=r"Hedge Mode.*dualSidePosition=true"):
            await rig.venues["binance"].start()


async def test_a_lot_that_disagrees_with_exchange_info_is_refused_at_start_up(settings) -> None:
    spec = settings.instruments["binance_btcusdt"]
    bad = msgspec.structs.replace(
        settings,
        instruments={
            **settings.instruments,
            "binance_btcusdt": msgspec.structs.replace(spec, lot=Decimal("0.01")),
        },
    )
    async with running(bad, start=False) as rig:
        with pytest.raises(
            VenueStartError,
            match=r"configured lot 0\.01 but the exchange's market stepSize is 0\.001",
        ):
            await rig.venues["binance"].start()


async def test_a_margin_rejection_carries_binances_code_and_text(settings) -> None:
    async with running(settings) as rig:
        rig.fb.reject_margin.add("c-margin")
        rig.router.submit(intent("c-margin"))
        await aeventually(lambda: rig.last("c-margin") is not None)
        upd = rig.last("c-margin")
        assert upd.status is S.REJECTED
        assert upd.reason == "binance -2019: Margin is insufficient."
        assert rig.fb.placed() == []


async def test_a_duplicate_id_refusal_is_looked_up_as_already_placed(settings) -> None:
    async with running(settings) as rig:
        rig.fb.partial["c-dup"] = [Decimal("0.1"), Decimal("0.1")]
        rig.fb.partial_every_s = 5.0  # stays open (partially filled) during the test
        venue = rig.venues["binance"]
        first = await venue.place_report(intent("c-dup"))
        second = await venue.place_report(intent("c-dup"))
        assert first.status is S.PARTIALLY_FILLED
        assert second.status is S.PARTIALLY_FILLED and second.filled_qty == Decimal("0.1")
        assert len(rig.fb.placed("c-dup")) == 1
        assert len(rig.fb.requests("GET", "/fapi/v1/order")) == 1


async def test_a_429_is_waited_out_and_the_same_order_sent_once_more(settings) -> None:
    async with running(settings) as rig:
        rig.fb.inject(
            "POST /fapi/v1/order",
            Fault(
                status=429,
                headers={"Retry-After": "1"},
                body={
                    "code": -1003,
                    "msg": "Too many requests; current limit is 1200 requests per minute.",
                },
            ),
        )
        rep = await rig.venues["binance"].place_report(intent("c-429"))
        posts = rig.fb.requests("POST", "/fapi/v1/order")
        assert rep.status is S.FILLED and len(rig.fb.placed("c-429")) == 1
        assert len(posts) == 2 and posts[1].ts - posts[0].ts >= 0.99
        assert all("newClientOrderId=c-429" in p.body for p in posts)


async def test_a_418_ban_refuses_orders_unsent_while_it_lasts(settings) -> None:
    async with running(settings) as rig:
        rig.fb.inject(
            "POST /fapi/v1/order",
            Fault(
                status=418,
                headers={"Retry-After": "120"},
                body={
                    "code": -1003,
                    "msg": "Way too many requests; IP banned until "
                    "4102444800000. Please use the websocket.",
                },
            ),
        )
        venue = rig.venues["binance"]
        first = await venue.place_report(intent("c-418a"))
        second = await venue.place_report(intent("c-418b"))
        assert first.status is S.REJECTED and "418" in first.reason and "not sent" in first.reason
        assert second.status is S.REJECTED and "not sent" in second.reason
        assert len(rig.fb.requests("POST", "/fapi/v1/order")) == 1
        assert rig.fb.placed() == []


async def test_positions_and_balances_read_and_a_failed_read_is_position_unknown(settings) -> None:
    async with running(settings) as rig:
        venue = rig.venues["binance"]
        assert await venue.balance("USDT") == Decimal("100000")
        rig.fb.positions["BTCUSDT"] = Decimal("-0.2")
        assert await venue.position("BTCUSDT") == Decimal("-0.2")
        rig.fb.inject(
            "GET /fapi/v2/positionRisk",
            Fault(
                status=500,
                body={"code": -1001, "msg": "Internal error; unable to process your request."},
            ),
        )
        with pytest.raises(PositionUnknown, match="binance BTCUSDT: position unknown"):
            await venue.position("BTCUSDT")


async def test_no_key_or_secret_appears_in_any_error_or_log(settings, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(settings, start=False) as rig:
        rig.fb.secret = "another-secret"  # every signed call now fails at the venue
        with pytest.raises(VenueStartError) as start_err:
            await rig.venues["binance"].start()
        rep = await rig.venues["binance"].place_report(intent("c-auth"))
        with pytest.raises(VenueError) as cancel_err:
            await rig.venues["binance"].cancel_all("BTCUSDT")
        texts = [str(start_err.value), rep.reason, rep.raw, str(cancel_err.value), caplog.text]
        assert rep.status is S.REJECTED and "-1022" in rep.reason
        for text in texts:
            for secret in KEYS["binance"]:
                assert secret not in text


def keepalive_every(settings: Settings, seconds: float) -> Settings:
    """``settings`` with the Binance listenKey kept alive every ``seconds``."""
    binance = msgspec.structs.replace(settings.venues.binance, listen_key_keepalive_s=seconds)
    venues = msgspec.structs.replace(settings.venues, binance=binance)
    return msgspec.structs.replace(settings, venues=venues)


async def test_the_listen_key_is_kept_alive_by_put(settings) -> None:
    base = keepalive_every(settings, 0.1)
    async with running(base) as rig:
        await aeventually(lambda: rig.fb.keepalives >= 2, 3.0)
        assert len(rig.fb.requests("PUT", "/fapi/v1/listenKey")) >= 2


async def test_a_1021_clock_refusal_resyncs_and_resends_the_same_id_kill_orders_too(
    settings,
) -> None:
    # the hazard: after start-up the offset was never measured again, and -1021 was a plain
    # refusal, so every later order (kill orders included) was refused
    async with running(settings) as rig:
        venue = rig.venues["binance"]
        await venue.place_report(intent("c-open", qty="0.2"))
        rig.fb.clock_skew_ms = 20_000  # the venue's clock moves 20 s ahead of ours
        rep = await venue.place_report(
            intent("c-kill", side="sell", qty="0.2", reduce_only=True, purpose="kill")
        )
        sent = rig.fb.requests("POST", "/fapi/v1/order")
        assert rep.status is S.FILLED and len(rig.fb.placed("c-kill")) == 1
        assert [parse_qs(r.body)["newClientOrderId"][0] for r in sent[1:]] == ["c-kill"] * 2
        assert len(rig.fb.requests("GET", "/fapi/v1/time")) == 2  # start-up and resync
        assert rig.fb.positions["BTCUSDT"] == 0


async def test_a_lost_listen_key_and_a_503_on_its_renewal_do_not_end_the_stream(settings) -> None:
    # the hazard: keep-alive -1125, then one 503 on POST listenKey, ended the keep-alive task
    # for the session and left the stream on a dead key
    base = keepalive_every(settings, 0.1)
    async with running(base) as rig:
        stream = rig.venues["binance"].stream
        await aeventually(lambda: len(rig.fb.ws_keys) == 1 and rig.fb.keepalives >= 1, 3.0)
        first = rig.fb.ws_keys[0]
        overloaded = Fault(503, {"code": -1001, "msg": "Internal error; unable to process."})
        rig.fb.inject("POST /fapi/v1/listenKey", overloaded)
        rig.fb.expire_listen_keys()
        await aeventually(lambda: "new listenKey failed (attempt 1)" in stream.key_error, 3.0)
        view = stream.view()
        assert (view.venue, view.stream, view.state) == ("binance", "private", "stale")
        assert "-1001 Internal error" in view.note
        await aeventually(lambda: len(rig.fb.ws_keys) == 2, 5.0)
        assert rig.fb.ws_keys[1] != first and rig.fb.ws_keys[1] == stream.listen_key
        kept = rig.fb.keepalives
        await aeventually(lambda: rig.fb.keepalives >= kept + 2, 3.0)  # on the new key
        assert stream.renewals == 1 and stream.key_error == ""
        await aeventually(lambda: stream.view().state == "live", 3.0)


async def test_fills_missed_while_the_stream_was_down_are_read_after_reconnect(settings) -> None:
    async with running(settings) as rig:
        rig.fb.partial["c-gap"] = [Decimal("0.1"), Decimal("0.1")]
        rig.fb.partial_every_s = 0.3
        rig.router.submit(intent("c-gap"))
        await aeventually(
            lambda: rig.last("c-gap") is not None and rig.last("c-gap").status is S.PARTIALLY_FILLED
        )
        rig.fb.stream_muted = rig.fb.ws_refused = True  # the second fill happens while the
        await rig.fb.drop_sockets()  # socket is down and cannot reconnect
        await aeventually(lambda: rig.fb.placed("c-gap")[0].status == "FILLED")
        rig.fb.stream_muted = rig.fb.ws_refused = False
        await aeventually(lambda: rig.last("c-gap").status is S.FILLED, 5.0)
        assert [f.qty for f in rig.fills("c-gap")] == [Decimal("0.1"), Decimal("0.1")]
        assert rig.venues["binance"].stream.connects == 2


async def test_ccxt_is_used_as_shipped_and_answers_keep_their_decimals(settings) -> None:
    async with running(settings, start=False) as rig:
        venue = rig.venues["binance"]
        assert type(venue.client) is ccxt_async.binanceusdm
        for name in ("fetch2", "parse_json", "handle_errors", "fetch"):
            assert getattr(type(venue.client), name) is getattr(ccxt_async.binanceusdm, name)
        rows = await venue.call(venue.client.fapiPrivateV2GetBalance)
        assert isinstance(rows[0]["balance"], str)  # the venue's own text, untouched
        # a result that is not the last answer's text (another call's) is returned as is
        venue.client.last_http_response = '[{"other": 1}]'
        assert venue.raw_or([{"mine": Decimal(1)}]) == [{"mine": Decimal(1)}]
        venue.client.last_http_response = '{"a": 0.1}'
        assert venue.raw_or({"a": 0.1}) == {"a": Decimal("0.1")}
