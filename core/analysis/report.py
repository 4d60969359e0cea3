"""The replay report: trades, funding payments, PnL split, drawdown, speed.

``pnl_usd`` splits the strategy's PnL: ``basis`` (realised price PnL converted at the fill's
XBT/USD, plus unrealised at the end at mark), ``funding`` (each payment converted at its
settlement mark), ``fees`` (negative), and ``total`` = their sum. Equity also moves with the
USD value of XBT collateral held on BitMEX: ``equity_start_usd``/``equity_end_usd`` show it and
``collateral_revaluation_usd`` is the part of the equity change that is not strategy PnL.
``per_venue``: funding received and paid, fees, and fees per purpose (entry, ladder, hedge,
exit, ...), USD. ``pairs``: each pair's status and days to break even at the current spread
(:meth:`core.domain.signal.PairSignal.break_even_days`).
``per_pair``: each pair's funding (net, received, paid), fees (negative), basis and total
PnL in USD, by the instruments it trades, with its trade count and its hedges (count, and
the quantity in its own asset; beside other pairs also its largest |net delta| left after an
instant, in that asset, ``max_abs_net_delta``); ``book``: their sums (equal to ``pnl_usd``)
and the gross notional held at the end. The text report lists them when more than one pair runs.
``round_trips``: per pair position from flat to flat, its holding time, funding earned, fees
paid (entry, ladder, hedge, exit), basis PnL and net (:mod:`core.domain.tradestats`).
``missed_settlements``: settlements the schedule expected while a position was held and no
rate came for (never booked as 0; :meth:`core.engine.engine.Engine._check_missed_settlements`).
``hedge_turnover``: the hedgers' fills (count and fees in USD: every asset's; BTC traded: BTC
instruments only) and the book's largest |net BTC delta| left after any instant's decisions
(BTC positions only), with its instant; beside other pairs or for another asset than BTC also
``by_asset``: per asset (BTC, XRP) its hedge fills, the quantity they traded and their fees,
and the book's largest |net delta| in that asset's units, with its instant: BTC and another
asset are never summed. ``open_legs`` (when any leg is open at the end): each open position
as pair, venue, symbol, qty and its unit (the asset for a linear instrument of size 1, else
``contracts``), in the pairs' order; ``open_positions`` the same by ``venue:symbol``.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from core.domain.contracts import ZERO, base_asset, is_coin, wire
from core.domain.equity import daily_returns, sharpe_ratio
from core.domain.events import InstrumentSpec
from core.domain.market import mark_decimal
from core.domain.tradestats import (
    fees_by_venue_and_purpose,
    hedge_turnover,
    hedges_by_asset,
    pair_figures,
    round_trips,
)
from core.engine.engine import Engine
from core.engine.pair import PairRuntime


def _num(d: Decimal) -> float:
    return float(d)


def build_report(
    engine: Engine, wall_s: float, strategy_curve: list[tuple[int, float]] | None = None
) -> dict[str, Any]:
    """The report of a finished (or stopped) run as a JSON-ready dict. ``sharpe`` is the
    account equity's (collateral revaluation included); ``sharpe_strategy`` that of
    ``strategy_curve`` (hourly start equity + strategy PnL, USD; None without one)."""
    led = engine.ledger
    marks = {
        k: mark_decimal(st) for k, st in engine.market.instruments.items() if st.mark is not None
    }
    xbt = Decimal(repr(engine.coin_usd()))
    unreal = led.unrealised_usd(marks, xbt)
    basis = led.realised_usd + unreal
    total = basis + led.funding_usd - led.fees_usd
    trades = [
        {
            "ts_ms": t.fill.ts_ms,
            "venue": t.fill.venue,
            "symbol": t.fill.symbol,
            "side": t.fill.side,
            "qty": wire(t.fill.qty),
            "price": wire(t.fill.price),
            "fee": _num(t.fill.fee),
            "fee_currency": t.fill.fee_currency,
            "reduce_only": t.fill.reduce_only,
            "purpose": t.fill.purpose,
            "client_order_id": t.fill.client_order_id,
            "realised": _num(t.realised),
        }
        for t in led.trades
    ]
    funding = [
        {
            "venue": p.venue,
            "symbol": p.symbol,
            "settlement_ts_ms": p.settlement_ts_ms,
            "rate": wire(p.rate),
            "mark_price": wire(p.mark_price),
            "position": wire(p.position),
            "amount": _num(p.amount),
            "currency": p.currency,
            "amount_usd": _num(p.amount_usd),
        }
        for p in led.funding_payments
    ]
    by_venue: dict[str, dict[str, float]] = defaultdict(
        lambda: {"funding_received_usd": 0.0, "funding_paid_usd": 0.0, "fees_usd": 0.0}
    )
    for p in led.funding_payments:
        key = "funding_received_usd" if p.amount_usd >= 0 else "funding_paid_usd"
        by_venue[p.venue][key] += float(p.amount_usd)
    for t in led.trades:
        by_venue[t.fill.venue]["fees_usd"] -= float(t.fee_usd)
    purposes = fees_by_venue_and_purpose(led.trades)
    venues: dict[str, dict[str, Any]] = {}
    for venue, v in by_venue.items():
        paid = purposes.get(venue, {})
        venues[venue] = {**v, "fees_by_purpose_usd": {k: -_num(f) for k, f in paid.items()}}
    pairs = []
    for pr in engine.pairs:
        a, b = pr.states()
        held = pr.direction if pr.status == "open" else 0
        pairs.append(
            {
                "pair": pr.cfg.name,
                "status": pr.status,
                "break_even_days": pr.signal.break_even_days(a, b, held),
            }
        )
    per_pair, book = _per_pair(engine, marks, xbt)
    start = engine.start_equity_usd or 0.0
    end = engine.equity_usd
    counts: dict[str, int] = defaultdict(int)
    for t in led.trades:
        counts[t.fill.purpose] += 1
    hedges = hedge_turnover(led.trades, engine.specs)
    turnover: dict[str, Any] = {
        "count": hedges.count,
        "btc": wire(hedges.btc.quantize(Decimal("0.00000001"))),
        "fees_usd": _num(hedges.fees_usd),
        "max_abs_net_delta_btc": engine.max_net_delta_btc,
        "max_abs_net_delta_ts_ms": engine.max_net_delta_ts_ms,
    }
    assets = list(dict.fromkeys(base_asset(pr.spec_a) for pr in engine.pairs))
    if len(engine.pairs) > 1 or any(a != "BTC" for a in assets):
        turnover["by_asset"] = _hedges_by_asset(engine, assets)
    report: dict[str, Any] = {
        "events": engine.events,
        "trades": trades,
        "trade_count": len(trades),
        "trades_by_purpose": dict(counts),
        "funding_payments": funding,
        "pnl_usd": {
            "basis": _num(basis),
            "funding": _num(led.funding_usd),
            "fees": -_num(led.fees_usd),
            "total": _num(total),
        },
        "per_venue": venues,
        "per_pair": per_pair,
        "book": book,
        "pairs": pairs,
        "round_trips": [
            {
                "pair": rt.pair,
                "open_ts_ms": rt.open_ts_ms,
                "close_ts_ms": rt.close_ts_ms,
                "holding_hours": rt.holding_hours(engine.now),
                "funding_usd": _num(rt.funding_usd),
                "fees_usd": _num(rt.fees_usd),
                "basis_usd": _num(rt.basis_usd),
                "net_usd": _num(rt.net_usd),
                "fills": rt.fills,
            }
            for rt in round_trips(led.trades, led.funding_payments)
        ],
        "missed_settlements": [
            {"venue": v, "symbol": sym, "settlement_ts_ms": ts, "position": wire(q)}
            for (v, sym, ts), q in engine.missed_settlements.items()
        ],
        "hedge_turnover": turnover,
        "equity_start_usd": start,
        "equity_end_usd": end,
        "collateral_revaluation_usd": end - start - float(total),
        "max_drawdown_pct": engine.dd.max_drawdown_pct,
        "sharpe": sharpe(engine.equity_curve),
        "sharpe_strategy": sharpe(strategy_curve) if strategy_curve else None,
        "final_trading_state": str(engine.state),
        "open_positions": {
            f"{v}:{s}": wire(p.qty) for (v, s), p in led.positions.items() if p.qty != 0
        },
        "rejections": len(engine.rejections),
        "first_ts_ms": engine.equity_curve[0][0] if engine.equity_curve else None,
        "last_ts_ms": engine.now,
        "wall_s": wall_s,
        "events_per_s": engine.events / wall_s if wall_s > 0 else None,
    }
    legs = _open_legs(engine)
    if legs:
        report["open_legs"] = legs
    return report


def _hedges_by_asset(engine: Engine, assets: list[str]) -> dict[str, dict[str, Any]]:
    """``hedge_turnover.by_asset``: each asset's hedge fills, quantity (its units) and fees,
    and the book's largest |net delta| in it (:attr:`Engine.max_net_delta`)."""
    done = hedges_by_asset(engine.ledger.trades, engine.specs)
    out: dict[str, dict[str, Any]] = {}
    for asset in dict.fromkeys([*assets, *done, *engine.max_net_delta]):
        h = done.get(asset)
        most, ts = engine.max_net_delta.get(asset, (0.0, 0))
        out[asset] = {
            "count": h.count if h else 0,
            "qty": wire((h.qty if h else ZERO).quantize(Decimal("0.00000001"))),
            "fees_usd": _num(h.fees_usd) if h else 0.0,
            "max_abs_net_delta": wire(Decimal(repr(most)).quantize(Decimal("0.00000001"))),
            "max_abs_net_delta_ts_ms": ts,
        }
    return out


def _open_legs(engine: Engine) -> list[dict[str, str]]:
    """Each position open at the end, in the pairs' order (then any no pair trades)."""
    order = {
        key: (2 * i + j, pr.cfg.name)
        for i, pr in enumerate(engine.pairs)
        for j, key in enumerate((pr.key_a, pr.key_b))
    }
    held = [(key, pos) for key, pos in engine.ledger.positions.items() if pos.qty != 0]
    held.sort(key=lambda kp: order.get(kp[0], (len(order), "none"))[0])
    return [
        {
            "pair": order.get(key, (0, "none"))[1],
            "venue": key[0],
            "symbol": key[1],
            "qty": wire(pos.qty),
            "unit": qty_unit(pos.spec),
        }
        for key, pos in held
    ]


def qty_unit(spec: InstrumentSpec) -> str:
    """The unit of an instrument's quantity: its asset (BTC, XRP) for a linear instrument of
    contract size 1, else ``contracts`` (inverse: USD each; linear: ``contract_size`` each)."""
    if spec.kind == "linear" and spec.contract_size == 1:
        return base_asset(spec)
    return "contracts"


def _per_pair(
    engine: Engine, marks: dict[tuple[str, str], Decimal], xbt: Decimal
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """``per_pair`` (each pair's funding, fees, basis and total, USD; its trades and hedges,
    the hedges' quantity in its own asset) and ``book`` (their sums)."""
    led = engine.ledger
    owner = {key: pr.cfg.name for pr in engine.pairs for key in (pr.key_a, pr.key_b)}
    assets = {pr.cfg.name: base_asset(pr.spec_a) for pr in engine.pairs}
    runtimes = {pr.cfg.name: pr for pr in engine.pairs}
    unreal: dict[tuple[str, str], Decimal] = {}
    for key, pos in led.positions.items():
        if pos.qty != 0 and key in marks:
            upnl = pos.unrealised(marks[key])
            unreal[key] = upnl * xbt if is_coin(pos.spec.settle_currency) else upnl
    figures = pair_figures(led.trades, led.funding_payments, owner, unreal, engine.specs)
    per_pair = {
        name: {
            "asset": assets.get(name, "?"),
            "funding_usd": _num(f.funding_usd),
            "funding_received_usd": _num(f.funding_received_usd),
            "funding_paid_usd": _num(f.funding_paid_usd),
            "fees_usd": -_num(f.fees_usd),
            "basis_usd": _num(f.basis_usd),
            "total_usd": _num(f.total_usd),
            "trade_count": f.trades,
            "hedge_count": f.hedges,
            "hedge_qty": wire(f.hedge_qty.quantize(Decimal("0.00000001"))),
            **_max_net(runtimes.get(name), len(engine.pairs)),
        }
        for name, f in figures.items()
    }
    vals = figures.values()
    book = {
        "funding_usd": _num(sum((f.funding_usd for f in vals), ZERO)),
        "fees_usd": -_num(sum((f.fees_usd for f in vals), ZERO)),
        "basis_usd": _num(sum((f.basis_usd for f in vals), ZERO)),
        "total_usd": _num(sum((f.total_usd for f in vals), ZERO)),
        "trade_count": sum(f.trades for f in vals),
        "gross_notional_usd": _num(engine.gross_notional_usd()),
    }
    return per_pair, book


def _max_net(pr: PairRuntime | None, pairs: int) -> dict[str, Any]:
    """A pair's largest |net delta| in its asset's units, beside other pairs (alone: the
    book's, ``hedge_turnover.max_abs_net_delta_btc``)."""
    if pr is None or pairs < 2:
        return {}
    return {
        "max_abs_net_delta": wire(pr.max_abs_net_delta.quantize(Decimal("0.00000001"))),
        "max_abs_net_delta_ts_ms": pr.max_abs_net_delta_ts_ms,
    }


def sharpe(curve: list[tuple[int, float]]) -> float | None:
    """Annualised Sharpe ratio of the account equity's daily returns (risk-free 0), from an
    hourly curve of (ts_ms, equity_usd); None with fewer than 3 days
    (:func:`core.domain.equity.sharpe_ratio`, the one definition)."""
    return sharpe_ratio(daily_returns(curve))


def cents(usd: float) -> str:
    """``usd`` to the cent with thousands separators; under half a cent either way is 0.00
    (a float residue such as 2.3e-11 or -0.001 never reads as ``-0.00``)."""
    return f"{(usd if abs(usd) >= 0.005 else 0.0):,.2f}"


def format_text(report: dict[str, Any]) -> str:
    """The report for a person: summary lines, then trades and funding payments."""
    p = report["pnl_usd"]
    sharpe_s = "n/a" if report["sharpe"] is None else f"{report['sharpe']:.2f} (account equity)"
    if report.get("sharpe_strategy") is not None:
        sharpe_s += f", {report['sharpe_strategy']:.2f} (strategy PnL)"
    by_purpose = ", ".join(f"{k} {v}" for k, v in report["trades_by_purpose"].items())
    h = report["hedge_turnover"]
    lines = [
        f"events            {report['events']:,} in {report['wall_s']:.2f} s "
        f"({(report['events_per_s'] or 0):,.0f} events/s)",
        f"trades            {report['trade_count']} ({by_purpose or 'none'})",
        f"funding payments  {len(report['funding_payments'])}"
        + (
            f" ({len(report['missed_settlements'])} settlements with no rate known, not booked)"
            if report["missed_settlements"]
            else ""
        ),
        f"PnL (USD)         basis {cents(p['basis'])}  funding {cents(p['funding'])}  "
        f"fees {cents(p['fees'])}  total {cents(p['total'])}",
        f"equity (USD)      {report['equity_start_usd']:,.2f} -> {report['equity_end_usd']:,.2f} "
        f"(collateral revaluation {cents(report['collateral_revaluation_usd'])})",
        _hedges_text(h),
        f"max drawdown      {report['max_drawdown_pct']:.2f} %",
        f"sharpe            {sharpe_s}",
        *_final_state_text(report),
    ]
    times = report.get("alert_ts_ms") or []
    for i, alert in enumerate(report.get("alerts", [])):
        when = "" if i >= len(times) else (f"{_iso(times[i])} " if times[i] > 0 else "at start ")
        lines.append(f"alert             {when}{alert}")
    for venue, v in sorted(report["per_venue"].items()):
        parts = ", ".join(f"{k} {f:,.2f}" for k, f in v["fees_by_purpose_usd"].items())
        lines.append(
            f"  {venue:8s} funding +{v['funding_received_usd']:,.2f} / {v['funding_paid_usd']:,.2f}"
            f"  fees {v['fees_usd']:,.2f} USD ({parts or 'none'})"
        )
    if len(report.get("per_pair", {})) > 1:
        for name, f in report["per_pair"].items():
            lines.append(
                f"  pair {name:10s} funding {f['funding_usd']:+,.2f}  fees {f['fees_usd']:,.2f}"
                f"  basis {f['basis_usd']:+,.2f}  total {f['total_usd']:+,.2f} USD"
                f"  ({f['trade_count']} trades; {f['hedge_count']} hedges,"
                f" {float(f['hedge_qty']):.4f} {f['asset']})"
            )
        b = report["book"]
        lines.append(
            f"  book            funding {b['funding_usd']:+,.2f}  fees {b['fees_usd']:,.2f}"
            f"  basis {b['basis_usd']:+,.2f}  total {b['total_usd']:+,.2f} USD"
            f"  (gross notional {b['gross_notional_usd']:,.2f} USD)"
        )
    for pr in report["pairs"]:
        days = pr["break_even_days"]
        if pr["status"] == "flat" and days is not None and round(days, 1) == 0:
            # nothing held, and an entry now would pay for itself at once: no figure to give
            lines.append(f"break even        {pr['pair']}: — (flat)")
            continue
        lines.append(
            f"break even        {pr['pair']} ({pr['status']}): "
            + ("never at the current spread" if days is None else f"{days:,.1f} days")
            + " (fees and basis still to pay over the carry per day)"
        )
    lines.append("")
    lines.append("round trips:")
    for rt in report["round_trips"]:
        end = _iso(rt["close_ts_ms"]) if rt["close_ts_ms"] is not None else "open"
        lines.append(
            f"  {rt['pair']} {_iso(rt['open_ts_ms'])} -> {end:20s}"
            f" held {rt['holding_hours']:6.1f} h"
            f"  funding {rt['funding_usd']:+,.2f}  fees {-rt['fees_usd']:+,.2f}"
            f"  basis {rt['basis_usd']:+,.2f}  net {rt['net_usd']:+,.2f} USD ({rt['fills']} fills)"
        )
    lines.append("trades:")
    for t in report["trades"]:
        ro = " reduce-only" if t["reduce_only"] else ""
        lines.append(
            f"  {_iso(t['ts_ms'])} {t['venue']:7s} {t['symbol']:8s} {t['side']:4s} {t['qty']:>10s}"
            f" @ {t['price']:>10s}  fee {t['fee']:.8f} {t['fee_currency']}  {t['purpose']}{ro}"
        )
    lines.append("funding payments:")
    for m in report["missed_settlements"]:
        lines.append(
            f"  {_iso(m['settlement_ts_ms'])} {m['venue']:7s} {m['symbol']:8s} no rate known"
            f" pos {m['position']:>10s} -> not booked"
        )
    for f in report["funding_payments"]:
        lines.append(
            f"  {_iso(f['settlement_ts_ms'])} {f['venue']:7s} {f['symbol']:8s}"
            f" rate {f['rate']:>11s}"
            f" pos {f['position']:>10s} mark {f['mark_price']:>9s} -> {f['amount']:+.8f}"
            f" {f['currency']} ({f['amount_usd']:+,.2f} USD)"
        )
    return "\n".join(lines)


def _hedges_text(h: dict[str, Any]) -> str:
    """The ``hedges`` line: one BTC figure for a BTC book; per asset beside other pairs or
    assets (``by_asset``), each in its own units, never BTC and XRP summed."""
    by_asset = h.get("by_asset")
    if not by_asset:
        return (
            f"hedges            {h['count']} fills, {float(h['btc']):.4f} BTC,"
            f" fees {h['fees_usd']:,.2f} USD;"
            f" max |net delta| {h['max_abs_net_delta_btc']:.4f} BTC"
            + (f" ({_iso(h['max_abs_net_delta_ts_ms'])})" if h["max_abs_net_delta_ts_ms"] else "")
        )
    parts = [
        f"{asset} {a['count']} fills, {float(a['qty']):,.4f} {asset},"
        f" max |net delta| {float(a['max_abs_net_delta']):,.4f} {asset}"
        + (f" ({_iso(a['max_abs_net_delta_ts_ms'])})" if a["max_abs_net_delta_ts_ms"] else "")
        for asset, a in by_asset.items()
    ]
    return f"hedges            {h['count']} fills, fees {h['fees_usd']:,.2f} USD: " + "; ".join(
        parts
    )


def _final_state_text(report: dict[str, Any]) -> list[str]:
    """``final state`` and, under it, each pair's open legs as ``venue symbol qty unit``."""
    state = f"final state       {report['final_trading_state']}"
    legs = report.get("open_legs")
    if legs is None:  # a report without units: the positions as they are
        legs = [
            {"pair": "", "venue": k.partition(":")[0], "symbol": k.partition(":")[2],
             "qty": q, "unit": ""}
            for k, q in report["open_positions"].items()
        ]  # fmt: skip
    if not legs:
        return [f"{state}  open none"]
    by_pair: dict[str, list[str]] = {}
    for leg in legs:
        text = f"{leg['venue']} {leg['symbol']} {leg['qty']} {leg['unit']}".rstrip()
        by_pair.setdefault(leg["pair"], []).append(text)
    return [f"{state}  open legs:"] + [
        f"  {pair or '?':15s} " + "; ".join(held) for pair, held in by_pair.items()
    ]


def _iso(ts_ms: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
