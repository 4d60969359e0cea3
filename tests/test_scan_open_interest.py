"""Binance open interest for the funding scanner (issue 14's filter): the wire parser on a real
answer, the conversion to USD at the mark, the scanner asking only the matched symbols
(core/runtime/open_interest.py) against the fake universe endpoints on 127.0.0.1
(tests/fake_exchange/universe.py: the docs' BTCUSDT answer, generated GEN answers), the cache
and its schedule, a failing symbol kept unknown and marked by the min-OI filter, a rate-limit
answer stopping the round, and the console's background round (the scan host refreshing
when it lands).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest

from core.domain.scan import Leg, ScanSettings, rank, rank_pair
from core.domain.universe import OpenInterest, Perp, match, open_interest_usd
from core.runtime.open_interest import NOT_READ
from core.runtime.scan_host import ScanHost
from core.runtime.scanner import Scanner, ScanResult
from core.venues.binance.universe import parse_open_interest
from tests.conftest import ROOT
from tests.fake_exchange.thread import ServerThread
from tests.fake_exchange.universe import GEN_OI_MS, FakeUniverse
from tests.test_scan_venues import NOW, settings_for
from tui.commands.scan import row_json
from tui.scanner_screen import oi_detail, texts
from tui.testing import wait_until

DOCS_MS = 1589437530011  # the docs' BTCUSDT answer's time
BTC_MARK = 83067.3  # the real premiumIndex row
MINUTE_MS = 60_000


@pytest.fixture
async def fake() -> AsyncIterator[FakeUniverse]:
    f = await FakeUniverse().start()
    yield f
    await f.stop()


def oi_asked(f: FakeUniverse) -> list[str]:
    """The symbols asked at /fapi/v1/openInterest, in order."""
    out = []
    for r in f.requests:
        u = urlsplit(r)
        if u.path == "/fapi/v1/openInterest":
            out.append(parse_qs(u.query)["symbol"][0])
    return out


def legs(res: ScanResult) -> dict[tuple[str, str], Leg]:
    return {leg.perp.key: leg for o in res.rows for leg in (o.short, o.long)}


MATCHED = ["BTCUSDT", *(f"GEN{i:02d}USDT" for i in range(1, 13))]


def test_the_wire_answer_real_and_bad_shapes() -> None:
    real = json.loads((ROOT / "tests/data/feeds/binance_rest_openInterest_BTCUSDT_220624.json")
                      .read_text(encoding="utf-8"))  # fmt: skip
    assert parse_open_interest(real, "BTCUSDT_220624") == (1275.028, 1654336785074)
    docs = {"openInterest": "10659.509", "symbol": "BTCUSDT", "time": DOCS_MS}
    assert parse_open_interest(docs, "BTCUSDT") == (10659.509, DOCS_MS)
    assert parse_open_interest({"openInterest": "0"}, "X") == (0.0, None)
    with pytest.raises(ValueError, match=r"openInterest BTCUSDT: field 'openInterest' missing"):
        parse_open_interest({"symbol": "BTCUSDT", "time": 1}, "BTCUSDT")
    with pytest.raises(ValueError, match=r"openInterest ETHUSDT: field 'symbol' is 'BTCUSDT'"):
        parse_open_interest(docs, "ETHUSDT")
    with pytest.raises(ValueError, match=r"openInterest X: field 'openInterest' is -1.0, not >= 0"):
        parse_open_interest({"openInterest": "-1"}, "X")
    with pytest.raises(ValueError, match=r"openInterest X: expected a JSON object, got list"):
        parse_open_interest([], "X")


def perp(venue: str, rate: float, mark: float, **kw: object) -> Perp:
    return Perp(venue=venue, symbol="XUSDT", base="X", quote="USDT", settle="USDT",
                kind="linear", mark=mark, index=None, next_rate=rate, next_funding_ms=None,
                interval_h=8.0, **kw)  # type: ignore[arg-type]  # fmt: skip


def test_contracts_to_usd_at_the_mark_linear_inverse_and_a_multiplier() -> None:
    pepe = Perp(venue="binance", symbol="1000PEPEUSDT", base="1000PEPE", quote="USDT",
                settle="USDT", kind="linear", mark=0.0125, index=None, next_rate=0.0001,
                next_funding_ms=None, interval_h=8.0)  # fmt: skip
    # 2,000,000 lots of 1,000 PEPE, quoted per lot
    assert open_interest_usd(pepe, 2_000_000.0) == 25_000.0
    inv = Perp(venue="bybit", symbol="BTCUSD", base="BTC", quote="USD", settle="BTC",
               kind="inverse", mark=50_000.0, index=None, next_rate=0.0001,
               next_funding_ms=None, interval_h=8.0, contract_usd=1.0)  # fmt: skip
    assert open_interest_usd(inv, 240_113_967.0) == 240_113_967.0
    # the ranking converts a read figure at each refresh's own mark
    a, b = perp("a", 0.0003, 10.0), perp("b", 0.0001, 10.0, open_interest_usd=5e6)
    read = {a.key: OpenInterest(1e5, 123)}
    o = rank_pair(a, b, ScanSettings(), 0, open_interest=read)
    assert (o.short.open_interest_usd, o.short.open_interest) == (1e6, read[a.key])
    assert (o.long.open_interest_usd, o.long.open_interest) == (5e6, None)  # with the quotes
    moved = rank_pair(perp("a", 0.0003, 12.5), b, ScanSettings(), 0, open_interest=read)
    assert moved.short.open_interest_usd == 1.25e6


def test_the_min_oi_filter_on_a_read_figure_and_an_unknown_one_kept_marked() -> None:
    a, b = perp("a", 0.0003, 10.0), perp("b", 0.0001, 10.0, open_interest_usd=5e6)
    s = ScanSettings(min_open_interest_usd=1e6)
    assert rank(match([a, b]), s, 0, open_interest={a.key: OpenInterest(9.9e4, 1)}) == []
    [o] = rank(match([a, b]), s, 0, open_interest={a.key: OpenInterest(1e5, 1)})
    assert not o.oi_unchecked
    failed = {a.key: OpenInterest(None, None, "HTTP 503")}
    [o] = rank(match([a, b]), s, 0, open_interest=failed)
    assert o.oi_unchecked and o.short.open_interest_usd is None
    assert o.short.open_interest == failed[a.key]
    [o] = rank(match([a, b]), ScanSettings(), 0, open_interest=failed)
    assert not o.oi_unchecked  # no minimum: nothing was hidden


async def test_only_matched_symbols_are_asked_converted_at_the_mark_and_cached(
    fake: FakeUniverse,
) -> None:
    clock = [NOW]
    sc = Scanner(settings_for(fake), history_rows=0, clock=lambda: clock[0])
    try:
        res = await sc.refresh()
        # 13 matched Binance symbols; XAUUSDT and 币安人生USDT have no Bybit twin: not asked
        assert sorted(oi_asked(fake)) == MATCHED
        got = legs(res)
        btc = got[("binance", "BTCUSDT")]
        assert btc.open_interest == OpenInterest(10659.509, DOCS_MS)
        assert btc.open_interest_usd == 10659.509 * BTC_MARK
        for i in range(1, 13):
            leg = got[("binance", f"GEN{i:02d}USDT")]
            contracts = 2e4 * (13 - i)
            assert leg.open_interest == OpenInterest(contracts, GEN_OI_MS)
            assert leg.open_interest_usd == contracts * (10.0 + i) == contracts * leg.perp.mark
        # Bybit's comes with its tickers: untouched, never asked per symbol
        by = got[("bybit", "BTCUSD")]
        assert (by.open_interest_usd, by.open_interest) == (240113967.0, None)
        # JSON: both units, the age at the scan's clock
        top = row_json(1, res.rows[0], res, sc.scan)
        assert top["key"] == "BTC bybit:BTCUSD/binance:BTCUSDT"
        assert (top["long"]["open_interest"], top["long"]["open_interest_usd"]) == (
            10659.509, 10659.509 * BTC_MARK,
        )  # fmt: skip
        assert top["long"]["open_interest_age_s"] == (NOW - DOCS_MS) / 1000
        assert top["long"]["open_interest_note"] is None
        assert (top["short"]["open_interest"], top["short"]["open_interest_age_s"]) == (None, None)
        # 4 minutes on: the cache answers, no request
        clock[0] = NOW + 4 * MINUTE_MS
        await sc.refresh()
        assert len(oi_asked(fake)) == 13
        assert sc.open_interest_round() is None
        # 5 minutes after the round: every matched symbol again, once, behind the refresh
        # (read once already: the refresh does not wait for it, the next one shows it)
        clock[0] = NOW + 5 * MINUTE_MS
        await sc.refresh()
        round_ = sc.open_interest_round()
        assert round_ is not None
        await round_
        assert sorted(oi_asked(fake)[13:]) == MATCHED
        assert sc.open_interest.asked == 26
    finally:
        await sc.close()


async def test_a_failing_symbol_stays_unknown_and_passes_the_minimum_marked(
    fake: FakeUniverse,
) -> None:
    min_oi = ScanSettings(min_open_interest_usd=1e6)
    sc = Scanner(settings_for(fake), min_oi, history_rows=0, clock=lambda: NOW)
    try:
        res = await sc.refresh()
        # Bybit GENii: 1e5 x i USD (>= 1e6 from GEN10); Binance GENii: 2e4 x (13 - i) x (10 + i)
        # USD (1.2e6 for GEN10, 8.4e5 for GEN11, 4.4e5 for GEN12): only GEN10 and BTC pass
        assert sorted(o.asset for o in res.rows) == ["BTC", "BTC", "GEN10"]
        assert not any(o.oi_unchecked for o in res.rows)
    finally:
        await sc.close()
    fake.requests.clear()
    fake.fail_symbols["GEN12USDT"] = 503
    sc = Scanner(settings_for(fake), min_oi, history_rows=0, clock=lambda: NOW)
    try:
        res = await sc.refresh()
        assert sorted(oi_asked(fake)) == MATCHED  # the failure does not stop the others
        assert sorted(o.asset for o in res.rows) == ["BTC", "BTC", "GEN10", "GEN12"]
        gen12 = next(o for o in res.rows if o.asset == "GEN12")
        assert gen12.oi_unchecked
        leg = legs(res)[("binance", "GEN12USDT")]
        why = (
            f"ExchangeNotAvailable: binanceusdm GET {fake.url}/fapi/v1/openInterest"
            '?symbol=GEN12USDT 503 Service Unavailable {"error": "overloaded"}'
        )
        assert (leg.open_interest_usd, leg.open_interest) == (None, OpenInterest(None, None, why))
        assert texts(gen12)[-2] == ("?", None)  # the console's min OI cell
        assert texts(gen12)[-1] == ("intervals oi?", None)  # 4 h vs 1 h, and unchecked
        assert oi_detail(leg, NOW) == f"unknown ({why})"
        # a failure is asked again after a minute, not five, behind the refresh
        del fake.fail_symbols["GEN12USDT"]
        sc.clock = sc.open_interest.clock = lambda: NOW + MINUTE_MS
        await sc.refresh()
        round_ = sc.open_interest_round()
        assert round_ is not None
        await round_
        assert oi_asked(fake)[13:] == ["GEN12USDT"]
        res = await sc.refresh()
        assert sorted(o.asset for o in res.rows) == ["BTC", "BTC", "GEN10"]
    finally:
        await sc.close()


async def test_a_rate_limit_answer_stops_the_round(fake: FakeUniverse) -> None:
    fake.fail_symbols["GEN03USDT"] = 429
    sc = Scanner(settings_for(fake), history_rows=0, clock=lambda: NOW)
    sc.open_interest.concurrency = 1  # one at a time: the order is the match's
    try:
        res = await sc.refresh()
        assert oi_asked(fake) == ["BTCUSDT", "GEN01USDT", "GEN02USDT", "GEN03USDT"]
        got = legs(res)
        assert got[("binance", "GEN02USDT")].open_interest == OpenInterest(2e4 * 11, GEN_OI_MS)
        busy = got[("binance", "GEN03USDT")].open_interest
        assert busy is not None and busy.note.startswith(
            "rate limited: binanceusdm 429 Too Many Requests "
        )
        rest = got[("binance", "GEN04USDT")].open_interest
        assert rest is not None and rest.note.startswith(
            "not asked: binance rate limited (binanceusdm 429 Too Many Requests "
        )
        assert len(res.rows) == 2 + fake.gen  # nothing dropped
        await sc.refresh()  # the rest waits for the schedule, not the next refresh
        assert len(oi_asked(fake)) == 4 and sc.open_interest_round() is None
    finally:
        await sc.close()


async def test_the_console_round_runs_behind_the_refresh(fake: FakeUniverse) -> None:
    sc = Scanner(settings_for(fake), history_rows=0, clock=lambda: NOW, wait_open_interest=False)
    try:
        res = await sc.refresh()
        leg = legs(res)[("binance", "GEN01USDT")]
        assert (leg.open_interest_usd, leg.open_interest) == (
            None,
            OpenInterest(None, None, NOT_READ),
        )
        assert oi_detail(leg, NOW) == "unknown (not read yet)"
        round_ = sc.open_interest_round()
        assert round_ is not None
        await round_
        assert sc.open_interest_round() is None
        res = await sc.refresh()
        leg = legs(res)[("binance", "GEN01USDT")]
        assert leg.open_interest_usd == 2e4 * 12 * 11.0
        assert oi_detail(leg, NOW) == "2,640,000 USD (240,000 contracts, 2 min old)"
        assert sorted(oi_asked(fake)) == MATCHED  # one round, not one per refresh
        top = res.rows[0]
        assert texts(top)[-2] == ("240.1", 240113967.0)  # BTC: Bybit's inverse is the smaller
    finally:
        await sc.close()


def test_the_console_scan_host_refreshes_when_the_round_lands() -> None:
    server = ServerThread()
    f = server.call(FakeUniverse().start())
    host = ScanHost(settings_for(f), every_s=600, history_rows=0, clock=lambda: NOW).start()
    try:
        # the first result at once, OI "not read yet"; the second when the round lands, not
        # 600 s later
        wait_until(lambda: host.refreshes >= 2, timeout=30, what="the refresh after the round")
        res = host.latest()
        assert res is not None and host.error == ""
        leg = legs(res)[("binance", "BTCUSDT")]
        assert leg.open_interest_usd == 10659.509 * BTC_MARK
        assert host.refreshes == 2 and len(oi_asked(f)) == 13
    finally:
        host.stop(timeout_s=5.0)
        server.call(f.stop())
        server.close()


async def test_a_good_figure_stays_through_failed_re_reads_for_fifteen_minutes(
    fake: FakeUniverse,
) -> None:
    clock = [NOW]
    sc = Scanner(settings_for(fake), history_rows=0, clock=lambda: clock[0])
    sc.open_interest.clock = lambda: clock[0]
    key = ("binance", "GEN02USDT")
    good = OpenInterest(2e4 * 11, GEN_OI_MS)
    try:
        assert legs(await sc.refresh())[key].open_interest == good
        fake.fail_symbols["GEN02USDT"] = 503
        why = (
            f"ExchangeNotAvailable: binanceusdm GET {fake.url}/fapi/v1/openInterest"
            '?symbol=GEN02USDT 503 Service Unavailable {"error": "overloaded"}'
        )
        for minutes, kept in ((5, True), (10, True), (15, False)):
            clock[0] = NOW + minutes * MINUTE_MS
            await sc.refresh()
            round_ = sc.open_interest_round()
            assert round_ is not None
            await round_
            leg = legs(await sc.refresh())[key]
            if kept:  # the last good figure, its age, and the failure said
                assert leg.open_interest == OpenInterest(
                    good.contracts, good.at_ms, f"re-read failed: {why}"
                )
                assert leg.open_interest_usd == 2e4 * 11 * 12.0
                assert oi_detail(leg, NOW).endswith(f"old); re-read failed: {why}")
            else:  # 15 minutes since the last good read: unknown
                assert (leg.open_interest_usd, leg.open_interest) == (
                    None, OpenInterest(None, None, why),
                )  # fmt: skip
    finally:
        await sc.close()
