"""Order rules: units, lots, minimums, ids and number formatting (HAZARDS H6, H7, H10)."""

from __future__ import annotations

from decimal import Decimal

from core.domain.config import Settings
from core.domain.contracts import floor_to_lot, qty_for_btc, wire
from core.domain.orders import CLIENT_ID_RE, ClientOrderIds, run_tag
from core.domain.risk import check_leg

D = Decimal


def test_h6_xbtusdt_contracts_are_1e6_xbt_and_a_sub_lot_order_is_refused(
    settings: Settings,
) -> None:
    xbtusdt = settings.instruments["bitmex_xbtusdt"]
    assert qty_for_btc(xbtusdt, D("0.2"), D(60_000)) == D(200_000)
    q = floor_to_lot(xbtusdt, qty_for_btc(xbtusdt, D("0.0005"), D(60_000)))
    assert q == 0
    assert (
        check_leg(xbtusdt, q, D(60_000), False) == "bitmex XBTUSDT: quantity rounds to 0 (lot 1000)"
    )


def test_h7_min_notional_on_one_leg_refuses_the_order_but_not_a_reduce_only_close(
    settings: Settings,
) -> None:
    import msgspec

    btcusdt = msgspec.structs.replace(settings.instruments["binance_btcusdt"], min_notional=D(100))
    q = floor_to_lot(btcusdt, D("0.0015"))
    assert q == D("0.001")
    assert check_leg(btcusdt, q, D(60_000), False) == (
        "binance BTCUSDT: notional 60.00 below the minimum 100"
    )
    assert check_leg(btcusdt, q, D(60_000), True) is None
    assert (
        check_leg(btcusdt, D(0), D(60_000), True)
        == "binance BTCUSDT: quantity rounds to 0 (lot 0.001)"
    )


def test_h10_numbers_are_sent_without_exponents() -> None:
    assert wire(D("0.00003")) == "0.00003"
    assert wire(D(repr(1.9e-07))) == "0.00000019"
    assert wire(D(repr(0.1 + 0.2)).quantize(D("0.001"))) == "0.300"


def test_h10_lot_flooring_keeps_the_lot_exponent(settings: Settings) -> None:
    btcusdt = settings.instruments["binance_btcusdt"]
    assert wire(floor_to_lot(btcusdt, D(repr(0.1 + 0.2)))) == "0.300"


def test_h10_client_order_ids_are_short_clean_and_deterministic() -> None:
    a, b = ClientOrderIds("strategy:one"), ClientOrderIds("strategy:one")
    ids_a = [a.next("BTC:perp.2024-01-01T00:00:00", "binance", "entry") for _ in range(3)]
    ids_b = [b.next("BTC:perp.2024-01-01T00:00:00", "binance", "entry") for _ in range(3)]
    assert ids_a == ids_b
    assert ids_a[0] == "strat-BTCperp2-bin-en-0000001"
    assert len(set(ids_a)) == 3
    assert all(CLIENT_ID_RE.match(i) and len(i) <= 36 for i in ids_a)


def test_live_runs_tag_their_ids_so_a_new_run_never_reuses_an_old_id() -> None:
    first = ClientOrderIds("strategy:one", run_tag=run_tag(1_764_400_000))
    second = ClientOrderIds("strategy:one", run_tag=run_tag(1_764_400_001))
    a = first.next("BTC:perp.2024-01-01T00:00:00", "binance", "entry")
    b = second.next("BTC:perp.2024-01-01T00:00:00", "binance", "entry")
    assert a != b
    assert run_tag(1_764_400_000) == "t6h7r4"
    assert len(a) == 35 and CLIENT_ID_RE.match(a)
    longest = ClientOrderIds("abcdefgh", run_tag=run_tag(36**7 - 1)).next(
        "ABCDEFGHIJ", "bitmex", "unwind"
    )
    assert len(longest) == 36 and CLIENT_ID_RE.match(longest)
