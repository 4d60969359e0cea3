"""Number and time formatting of the console (tui/format.py): units and signs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tui import format as fmt


def test_ts_iso_is_utc_to_the_second() -> None:
    assert fmt.ts_iso(1584079199999) == "2020-03-13T05:59:59Z"
    assert fmt.ts_iso(None) == fmt.DASH


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0, "00:00:00"), (7_200_000, "02:00:00"), (3_723_000, "01:02:03"), (-5, "00:00:00")],
)
def test_countdown_is_hh_mm_ss(ms: int, text: str) -> None:
    assert fmt.countdown(ms) == text


def test_countdown_past_a_day_shows_days() -> None:
    assert fmt.countdown(90_061_000) == "1d01:01:01"


def test_rates_are_shown_in_percent_with_sign() -> None:
    assert fmt.rate_pct(Decimal("0.0001")) == "+0.0100%"
    assert fmt.rate_pct(Decimal("-0.00375")) == "-0.3750%"
    assert fmt.rate_pct(0.0000125, 5) == "+0.00125%"
    assert fmt.rate_pct(None) == fmt.DASH


def test_apr_is_a_fraction_per_year_shown_in_percent() -> None:
    assert fmt.apr_pct(0.219) == "+21.90%"


def test_pct_never_shows_minus_zero() -> None:
    assert fmt.pct(-0.0, 1, sign=True) == "+0.0%"
    assert fmt.pct(-0.001, 1, sign=True) == "+0.0%"
    assert fmt.pct(3.875) == "3.88%"


def test_quantities_keep_their_unit_conventions() -> None:
    assert fmt.qty(Decimal("21300"), "contracts") == "+21,300"
    assert fmt.qty(Decimal("-4.472"), "BTC") == "-4.4720"
    assert fmt.size(Decimal("2500")) == "2,500"
    assert fmt.size(Decimal("0.413")) == "0.4130"
    assert fmt.size(None) == fmt.DASH


def test_amounts_in_xbt_keep_six_decimals_and_usdt_two() -> None:
    assert fmt.amount(Decimal("0.017375"), "XBT") == "+0.017375"
    assert fmt.amount(-4.03, "USDT") == "-4.03"


def test_replay_speed_and_progress() -> None:
    assert fmt.speed(3600.0) == "x3,600"
    assert fmt.speed(None) == "max"
    assert fmt.progress(18045, 33879) == "53.3%"
    assert fmt.progress(5, 0) == "5 ev"


def test_prices_follow_the_instruments_tick() -> None:
    """XRPUSDT (tick 0.0001) showed 0.62 for 0.6234: a price has its tick's decimals."""
    assert fmt.price(0.6234, Decimal("0.0001")) == "0.6234"
    assert fmt.price(Decimal("1.111365482572812222904303936"), Decimal("0.0001")) == "1.1114"
    assert fmt.price(67646.46, Decimal("0.01")) == "67,646.46"
    assert fmt.price(63127.0, Decimal("0.1")) == "63,127.0"
    assert fmt.price(61963.5, Decimal("0.5")) == "61,963.5"
    assert fmt.price(25.0, Decimal("1")) == "25"
    assert fmt.price(7935.5) == "7,935.50"  # tick unknown: two decimals
    assert fmt.price(None, Decimal("0.1")) == fmt.DASH


@pytest.mark.parametrize(
    ("step", "decimals"),
    [("0.0001", 4), ("0.5", 1), ("0.10", 1), ("1", 0), ("10", 0), ("1E-8", 8), ("0", 2)],
)
def test_a_step_needs_the_decimals_of_its_last_digit(step: str, decimals: int) -> None:
    assert fmt.step_decimals(Decimal(step)) == decimals
    assert fmt.step_decimals(None) == 2


def test_quantities_and_sizes_follow_the_instruments_lot() -> None:
    assert fmt.qty(Decimal("14218.4"), "XRP", Decimal("0.1")) == "+14,218.4"
    assert fmt.qty(Decimal("-14218"), "XRP", Decimal("1")) == "-14,218"
    assert fmt.qty(Decimal("-0.064"), "BTC", Decimal("0.001")) == "-0.064"
    assert fmt.qty(Decimal("90"), "contracts", Decimal("1")) == "+90"
    assert fmt.size(Decimal("5951.7"), Decimal("0.1")) == "5,951.7"
    assert fmt.size(Decimal("0.141"), Decimal("0.001")) == "0.141"
    assert fmt.size(Decimal("7853"), Decimal("1")) == "7,853"
