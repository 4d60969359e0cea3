"""A venue's own funding statement (Bybit ``execType`` Funding) is recorded and compared with
the ledger's payment for the same settlement; it is never booked a second time."""

from __future__ import annotations

from decimal import Decimal

from core.domain.config import load_config
from core.domain.orders import Fill
from core.domain.records import AlertRaised, Record, VenueFundingReported
from core.engine.engine import Engine
from tests.conftest import ROOT
from tests.helpers import bar, settle, ts

D = Decimal
SETTLE = "2024-03-05T08:00"


class Recorded:
    def __init__(self) -> None:
        self.rows: list[Record] = []

    def before_send(self, intent: object) -> None:
        pass

    def record(self, rec: Record) -> None:
        self.rows.append(rec)


def short_bybit(amount_reported: str) -> tuple[Engine, Recorded, VenueFundingReported]:
    eng = Engine(load_config(ROOT / "config.toml"), mode="live")
    rec = Recorded()
    eng.recorders.append(rec)
    eng.on_event(bar("bybit", "BTCUSDT", "2024-03-05T07:59", 68_000.0))
    eng.ledger.apply_fill(
        Fill("c1", "BTC", "bybit", "BTCUSDT", "sell", D("0.2"), D(68_000), D(0), "USDT", False,
             "entry", ts("2024-03-05T07:30")),
        D(0),
    )  # fmt: skip
    report = VenueFundingReported(
        "bybit", "BTCUSDT", ts(SETTLE), D("0.00112788"), D("-0.2"), D(amount_reported), "USDT"
    )
    return eng, rec, report


def test_a_matching_venue_statement_is_recorded_and_not_booked_again() -> None:
    # short 0.2 BTC x mark 68,000 x 0.00112788 = 15.339168 USDT received (HAZARDS H1 rule)
    eng, rec, report = short_bybit("15.339168")
    eng.on_event(settle("bybit", "BTCUSDT", SETTLE, "0.00112788"))
    eng.on_venue_funding(report)
    assert [p.amount for p in eng.ledger.funding_payments] == [D("15.33916800")]
    assert report in rec.rows
    assert not [r for r in rec.rows if isinstance(r, AlertRaised)]
    assert eng.ledger.balances[("bybit", "USDT")] == D(100_000) + D("15.339168")


def test_a_statement_before_the_settlement_is_compared_once_it_is_booked() -> None:
    eng, rec, report = short_bybit("-15.339168")  # the venue says paid: the sign is wrong
    eng.on_venue_funding(report)
    assert not [r for r in rec.rows if isinstance(r, AlertRaised)]
    eng.on_event(settle("bybit", "BTCUSDT", SETTLE, "0.00112788"))
    alerts = [r.text for r in rec.rows if isinstance(r, AlertRaised)]
    assert alerts == [
        "bybit BTCUSDT funding at 2024-03-05T08:00:00.000Z: the venue booked -15.339168 USDT, "
        "the ledger 15.339168: the venue's figure is booked; check the position"
    ]
    # live, the account holds what the venue booked: the ledger's +15.34 becomes -15.34
    assert eng.ledger.balances[("bybit", "USDT")] == D(100_000) - D("15.339168")
    assert eng.ledger.position("bybit", "BTCUSDT").funding == D("-15.339168")
