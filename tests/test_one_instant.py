"""One instant, one state (DESIGN; issue 12): every event of one ``ts_ms`` (all venues, all
kinds) is applied before the strategy, hedger or risk monitor looks; fills use that instant's
prices; a position opened at a settlement instant is not charged for it, one closed then is."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from core.analysis.report import build_report, format_text
from core.domain import commands as cmd
from core.domain.config import Settings
from core.domain.events import Event
from core.engine.engine import Engine
from core.runtime.drive import Drive
from tests.helpers import bar, settle, with_overrides

D = Decimal
BN, BM = ("binance", "BTCUSDT"), ("bitmex", "XBTUSD")


def one_observation(settings: Settings) -> Settings:
    """The shipped history config, entering on the first observation with an edge."""
    return with_overrides(settings, strategy={"observations": 1})


def jump_events() -> list[Event]:
    """Both venues' 1 m bars close at the same instants; in the bar whose instant triggers
    the entry (the first after 01:00, the observation grid), BitMEX jumps 50,000 -> 45,000
    and comes after Binance's bar in file order."""
    return [
        settle(*BN, "2024-01-01T00:00", "0.0003"),
        settle(*BM, "2024-01-01T00:00", "-0.003"),
        bar(*BN, "2024-01-01T00:59", 50_000.0),
        bar(*BM, "2024-01-01T00:59", 50_000.0),
        bar(*BN, "2024-01-01T01:00", 50_000.0),
        bar(*BM, "2024-01-01T01:00", 50_000.0),
        bar(*BN, "2024-01-01T01:01", 50_000.0),  # 01:00:59.999: the observation's instant
        bar(*BM, "2024-01-01T01:01", 45_000.0),  # ... the jump, same instant
        bar(*BN, "2024-01-01T01:02", 50_000.0),
        bar(*BM, "2024-01-01T01:02", 45_000.0),
    ]


def test_every_fill_is_at_its_own_venues_price_of_that_instant(settings: Settings) -> None:
    with Drive.replay(one_observation(settings), jump_events(), observers=False) as drive:
        drive.run()
    eng = drive.engine
    fills = [
        (
            t.fill.ts_ms % 86_400_000,
            t.fill.venue,
            t.fill.side,
            t.fill.qty,
            t.fill.price,
            t.fill.purpose,
        )
        for t in eng.ledger.trades
    ]
    # entry at 01:00:59.999 (3,659,999 ms into the day): BitMEX (coarser lot) first, at
    # 45,000 + 2 bp slippage = 45,009.0; Binance second at 50,000 - 2 bp = 49,990.00, for
    # the BTC of 10,000 contracts (10,000 USD) at 45,000 (0.2222..., floored to 0.222 at
    # lot 0.001). No hedge: |net| = |10,000 / 45,000 - 0.222| = 0.00022 BTC < 0.1 band.
    assert fills == [
        (3_659_999, "bitmex", "buy", D(10_000), D("45009.0"), "entry"),
        (3_659_999, "binance", "sell", D("0.222"), D("49990.00"), "entry"),
    ]


def test_the_engine_decides_once_per_instant_not_per_event(settings: Settings) -> None:
    """The same events handed over one at a time (each its own instant, as live events
    are) price BitMEX at the 50,000 it had when Binance's bar of that instant came in: the
    fault the drive's grouping removes (the instant, whole, gives 45,009.0 above)."""
    by_instant = Engine(one_observation(settings), mode="replay")
    by_event = Engine(one_observation(settings), mode="replay")
    events = jump_events()
    for i in range(0, len(events), 2):
        by_instant.on_instant(events[i : i + 2])
        for ev in events[i : i + 2]:
            by_event.on_event(ev)
    assert [t.fill.price for t in by_instant.ledger.trades] == [D("45009.0"), D("49990.00")]
    stale = [(t.fill.venue, t.fill.price, t.fill.purpose) for t in by_event.ledger.trades][:4]
    # ... and the jump, seen a moment later, then looks like a 10 % fall from the entry: a
    # ladder add and its hedge at once, on a price move that never happened to the position
    assert stale == [
        ("bitmex", D("50010.0"), "entry"),
        ("binance", D("49990.00"), "entry"),
        ("bitmex", D("45009.0"), "ladder"),
        ("binance", D("49990.00"), "hedge"),
    ]


def entry_at_settlement(settings: Settings) -> Engine:
    """An engine whose entry is decided and filled at 08:00:00.000, the instant of a
    Binance settlement (the observation due at 08:00 runs on that instant's events)."""
    eng = Engine(
        with_overrides(one_observation(settings), strategy={"observe_every_s": 28_800}),
        mode="replay",
    )
    eng.on_instant(
        [settle(*BN, "2024-01-01T00:00", "0.0003"), settle(*BM, "2024-01-01T00:00", "-0.003")]
    )
    eng.on_instant([bar(*BN, "2024-01-01T08:00", 50_000.0), bar(*BM, "2024-01-01T08:00", 50_000.0)])
    assert eng.ledger.trades == []  # 07:59:59.999: no observation due yet
    eng.on_instant([settle(*BN, "2024-01-01T08:00", "0.0003")])
    return eng


def test_a_position_opened_at_a_settlement_instant_is_not_charged_for_it(
    settings: Settings,
) -> None:
    eng = entry_at_settlement(settings)
    opened = {t.fill.venue: t.fill.ts_ms for t in eng.ledger.trades}
    assert opened == {"bitmex": 1_704_096_000_000, "binance": 1_704_096_000_000}  # 08:00:00.000
    assert eng.ledger.funding_payments == []
    eng.on_instant([bar(*BN, "2024-01-01T12:00", 50_000.0), bar(*BM, "2024-01-01T12:00", 50_000.0)])
    eng.on_instant([settle(*BM, "2024-01-01T12:00", "-0.003")])
    pay = eng.ledger.funding_payments
    # the next settlement is paid: long 10,000 XBTUSD / 50,000 x 0.003 = +0.0006 XBT
    assert [(p.venue, p.position, p.amount) for p in pay] == [("bitmex", D(10_000), D("0.0006"))]


def test_a_position_closed_at_a_settlement_instant_is_charged_for_it(settings: Settings) -> None:
    eng = entry_at_settlement(settings)
    eng.on_instant([bar(*BN, "2024-01-01T16:00", 50_000.0), bar(*BM, "2024-01-01T16:00", 50_000.0)])
    eng.on_instant([settle(*BN, "2024-01-01T16:00", "0.0003")])
    eng.handle(cmd.Flatten())  # closes at 16:00:00.000, after the instant's settlement
    closes = [t.fill for t in eng.ledger.trades if t.fill.purpose == "flatten"]
    assert {f.ts_ms for f in closes} == {1_704_124_800_000}
    # short 0.2 BTC x 50,000 x 0.0003 = +3 USDT received at 16:00
    pay = eng.ledger.funding_payments
    assert [(p.venue, p.position, p.amount) for p in pay] == [("binance", D("-0.200"), D(3))]
    # and a settlement learned late (live: stamped after the close) is charged the same way
    eng.on_event(settle(*BN, "2024-01-02T00:00", "0.0003"))
    assert len(eng.ledger.funding_payments) == 1


def test_a_settlement_with_no_rate_known_is_counted_and_reported_never_paid_at_0(
    settings: Settings,
) -> None:
    """Held short Binance over its 16:00 settlement with no rate ever arriving for it: an hour
    later it is counted and alerted, listed in the report, and nothing is booked."""
    eng = entry_at_settlement(settings)  # Binance settled at 08:00 (8 h): next due 16:00
    for hh in ("12", "16"):
        eng.on_instant(
            [bar(*BN, f"2024-01-01T{hh}:00", 50_000.0), bar(*BM, f"2024-01-01T{hh}:00", 50_000.0)]
        )
    eng.on_instant([settle(*BM, "2024-01-01T16:00", "-0.003")])  # BitMEX's comes, Binance's not
    eng.on_instant([bar(*BN, "2024-01-01T17:00", 50_000.0), bar(*BM, "2024-01-01T17:00", 50_000.0)])
    assert eng.missed_settlements == {}  # 16:59:59.999: within the hour's grace
    eng.on_instant([bar(*BN, "2024-01-01T17:01", 50_000.0), bar(*BM, "2024-01-01T17:01", 50_000.0)])
    assert eng.missed_settlements == {("binance", "BTCUSDT", 1_704_124_800_000): D("-0.200")}
    assert [p.venue for p in eng.ledger.funding_payments] == ["bitmex"]  # its 16:00 only
    assert any(
        "no funding rate known for the settlement of 2024-01-01T16:00" in e.text for e in eng.log
    )
    report = build_report(eng, 1.0)
    assert report["missed_settlements"] == [
        {
            "venue": "binance",
            "symbol": "BTCUSDT",
            "settlement_ts_ms": 1_704_124_800_000,
            "position": "-0.200",
        }
    ]
    text = format_text(report)
    assert "funding payments  1 (1 settlements with no rate known, not booked)" in text
    assert (
        "  2024-01-01T16:00:00Z binance BTCUSDT  no rate known pos     -0.200 -> not booked" in text
    )
    # the rate turns up late (a live feed's statement): booked, no longer missing
    late = settle(*BN, "2024-01-01T16:00", "0.0003")
    eng.on_event(
        msgspec.structs.replace(late, ts_ms=late.ts_ms + 3_700_000, settlement_ts_ms=late.ts_ms)
    )
    assert eng.missed_settlements == {}
    assert [p.venue for p in eng.ledger.funding_payments] == ["bitmex", "binance"]
