"""The banner's facts (:mod:`core.engine.attention`) from a real engine and its real host: an
audit log that cannot write, a position mismatch until the operator arms again, stale market
data, and nothing at all while everything is well."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from core.domain import commands as cmd
from core.domain.config import Settings
from core.domain.records import PositionMismatch
from core.domain.snapshot import FeedView
from core.runtime.host import EngineHost
from tests.conftest import SHIPPED_REPLAY, eventually
from tests.diskfull import FULL, disk_full
from tests.observers import observed

IN_POSITION_TS_MS = 1584079200000  # 2020-03-13T06:00Z: hedge open


def paused_host(settings: Settings) -> EngineHost:
    host = EngineHost.for_replay(settings, SHIPPED_REPLAY, pause_at_ts_ms=IN_POSITION_TS_MS)
    host.start()
    eventually(lambda: host.snapshot().replay.paused, timeout_s=20)  # type: ignore[union-attr]
    return host


def test_all_well_raises_no_alarm(settings: Settings) -> None:
    host = paused_host(settings)
    try:
        assert host.snapshot().alarms == ()
    finally:
        host.stop()


def test_a_position_mismatch_stays_on_the_banner_until_the_operator_arms(
    settings: Settings,
) -> None:
    host = paused_host(settings)
    try:
        eng = host.engine
        host.attention.record(
            PositionMismatch(eng.now, "bitmex", "XBTUSD", Decimal(20400), Decimal(0), "REST read",
                             "rehedge")
        )  # fmt: skip
        host.submit(cmd.Pause())  # any command: the host publishes at once
        eventually(lambda: any(a.kind == "mismatch" for a in host.snapshot().alarms))
        (alarm,) = [a for a in host.snapshot().alarms if a.kind == "mismatch"]
        assert alarm.text == (
            "position mismatch bitmex XBTUSD: venue 0, ledger 20400 (REST read); policy "
            "rehedge; arm (a) once reviewed"
        )
        host.submit(cmd.Arm())
        eventually(lambda: not any(a.kind == "mismatch" for a in host.snapshot().alarms))
    finally:
        host.stop()


def test_stale_market_data_names_the_silent_stream(settings: Settings) -> None:
    host = paused_host(settings)
    try:
        host.engine.set_stale_venues({"binance"})
        feeds = (
            FeedView("binance", "btcusdt@bookTicker", "stale", 6_100, 10, 0),
            FeedView("bitmex", "quote:XBTUSD", "live", 0, 10, 0),
        )
        alarms = host.attention.alarms(host.engine, feeds)
        assert [(a.kind, a.text) for a in alarms] == [
            (
                "stale",
                "binance market data stale (btcusdt@bookTicker silent 6 s): no entries or adds",
            )
        ]
    finally:
        host.stop()


def test_an_audit_log_that_cannot_write_is_on_the_banner(
    settings: Settings, tmp_path: Path
) -> None:
    with disk_full():
        host = paused_host(observed(settings, tmp_path, write_ahead_in_replay=True))
        try:
            host.submit(cmd.Pause())
            eventually(lambda: any(a.kind == "audit" for a in host.snapshot().alarms), timeout_s=10)
            (alarm,) = [a for a in host.snapshot().alarms if a.kind == "audit"]
            assert alarm.text == (
                f"audit log cannot write ({tmp_path / 'audit.db'}: {FULL}): entries refused"
            )
        finally:
            host.stop()


def test_an_instrument_its_venue_does_not_trade_opens_nothing_and_is_on_the_banner(
    settings: Settings,
) -> None:
    """HAZARDS H23: a symbol the venue lists but does not trade (SETTLING) stops its pair
    from opening; closes and the rest go on. The same replay opens the hedge by 06:00 when
    the symbol trades (:func:`paused_host`)."""
    host = EngineHost.for_replay(settings, SHIPPED_REPLAY, pause_at_ts_ms=IN_POSITION_TS_MS)
    eng = host.engine
    (pair,) = [p.cfg.name for p in eng.pairs]
    eng.set_not_trading({("binance", "BTCUSDT"): "status SETTLING (exchangeInfo)"})
    host.start()
    try:
        eventually(lambda: host.snapshot().replay.paused, timeout_s=20)  # type: ignore[union-attr]
        assert eng.ledger.position("binance", "BTCUSDT").qty == 0
        assert eng.ledger.position("bitmex", "XBTUSD").qty == 0
        alerts = [e.text for e in eng.log if e.kind == "alert"]
        assert alerts == [
            "binance BTCUSDT not trading at the venue (status SETTLING (exchangeInfo)): "
            f"pair {pair} opens nothing"
        ]
        alarms = host.attention.alarms(eng, ())
        assert [(a.kind, a.text) for a in alarms] == [
            (
                "stale",
                "binance BTCUSDT not trading at the venue (status SETTLING (exchangeInfo)): "
                "no entries",
            )
        ]
        eng.set_not_trading({})
        assert eng.log[-1].text == "binance BTCUSDT trading at the venue again"
        assert host.attention.alarms(eng, ()) == ()
    finally:
        host.stop()


def test_the_same_replay_is_in_position_when_the_symbol_trades(settings: Settings) -> None:
    host = paused_host(settings)
    try:
        assert host.engine.ledger.position("binance", "BTCUSDT").qty != 0
    finally:
        host.stop()
