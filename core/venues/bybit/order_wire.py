"""Bybit v5 order wire: order status names, the ``retCode`` groups the execution client acts
on, and parsers of order, trade-execution and funding-execution rows (REST
``/v5/order/realtime``, ``/v5/execution/list`` and the private ``order``/``execution`` topics
carry the same fields; Bybit docs ``order/open-order.mdx``, ``order/execution.mdx``,
``enum.mdx``). Part of :mod:`core.venues.bybit.execution`, which re-exports every name.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from core.domain import timeutil
from core.domain.contracts import ZERO
from core.domain.events import InstrumentSpec
from core.domain.venue import OrderStatus
from core.execution.state import FundingReport, Report
from core.venues.ccxt_base import now_ms

NAME = "bybit"
DEMO_WS = "wss://stream-demo.bybit.com/v5/private"
PROD_WS = "wss://stream.bybit.com/v5/private"

#: ``orderStatus`` (docs ``enum.mdx`` "orderStatus") -> our status.
STATUS = {
    "Created": OrderStatus.ACCEPTED,
    "New": OrderStatus.ACCEPTED,
    "Untriggered": OrderStatus.ACCEPTED,
    "Triggered": OrderStatus.ACCEPTED,
    "PartiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "PartiallyFilledCanceled": OrderStatus.CANCELLED,
    "Deactivated": OrderStatus.CANCELLED,
    "Rejected": OrderStatus.REJECTED,
}
RATE_CODES = ("10006", "10018")
CLOCK_CODES = ("10002",)
DUPLICATE_CODES = ("110072",)
NOT_FOUND_CODES = ("110001",)
UNKNOWN_CODES = ("10016", "10000")
REDUCE_ONLY_CODE = "110017"
REDUCE_ONLY_TEXT = (
    "reduce-only order refused: it would not reduce the position (ccxt: 'Reduce-only rule not "
    "satisfied'; Bybit error table: 'orderQty will be truncated to zero')"
)
HEDGE_MODE = (
    "bybit: the account is in Hedge Mode ({rows}); arbtui trades one-way only "
    "(positionIdx 0): switch {symbol} to One-Way Mode (POST /v5/position/switch-mode "
    "mode=0, or the position-mode setting in the Bybit app), then start again"
)


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else ZERO


def category(spec: InstrumentSpec) -> str:
    """Bybit ``category`` of an instrument: ``linear`` or ``inverse``."""
    return "inverse" if spec.kind == "inverse" else "linear"


def parse_order(o: dict[str, Any], source: str = "rest") -> Report:
    """A v5 order object (``GET /v5/order/realtime`` list row, ``order`` topic row; docs
    ``order/open-order.mdx``, ``websocket/private/order.mdx``) as a :class:`Report`.
    ``cumExecQty`` is cumulative in BTC (linear) or contracts (inverse)."""
    avg = _dec(o.get("avgPrice"))
    status = STATUS.get(str(o.get("orderStatus")), OrderStatus.UNKNOWN)
    reason = str(o.get("rejectReason") or "")
    return Report(
        cid=str(o.get("orderLinkId") or ""),
        venue=NAME,
        symbol=str(o.get("symbol", "")),
        status=status,
        filled_qty=_dec(o.get("cumExecQty")),
        avg_price=avg if avg > 0 else None,
        ts_ms=int(o.get("updatedTime") or o.get("createdTime") or now_ms()),
        reason="" if reason in ("", "EC_NoError") else reason,
        raw=json.dumps(o, default=str, separators=(",", ":")),
        source=source,
    )


def parse_trade_execution(row: dict[str, Any], settle: str, raw: str = "") -> Report | None:
    """An ``execution`` topic row with ``execType`` Trade (docs
    ``websocket/private/execution.mdx``) as one execution of our order: ``execQty`` at
    ``execPrice``, fee ``execFee`` in ``feeCurrency`` (else ``settle``); cumulative quantity
    = ``orderQty - leavesQty``. None for a row without ``orderLinkId`` (not ours)."""
    cid = str(row.get("orderLinkId") or "")
    if not cid or row.get("execType") != "Trade":
        return None
    leaves = _dec(row.get("leavesQty"))
    return Report(
        cid=cid,
        venue=NAME,
        symbol=str(row.get("symbol", "")),
        status=OrderStatus.PARTIALLY_FILLED if leaves > 0 else OrderStatus.FILLED,
        filled_qty=_dec(row.get("orderQty")) - leaves,
        exec_id=str(row.get("execId", "")),
        last_qty=_dec(row.get("execQty")),
        last_price=_dec(row.get("execPrice")) or None,
        fee=_dec(row.get("execFee")),
        fee_currency=str(row.get("feeCurrency") or settle),
        ts_ms=int(row.get("execTime") or now_ms()),
        raw=raw,
        source="stream",
    )


def _settlement_ms(exec_time_ms: int) -> int:
    """The settlement a funding execution belongs to: its ``execTime`` snapped to the whole
    hour (a few ms of jitter, as every venue's settlement stamps carry), or as it is when it
    lies further from one (then it matches no ledger payment and stays on record only)."""
    try:
        return timeutil.normalise_settlement_ms(exec_time_ms)
    except ValueError:
        return exec_time_ms


def parse_funding_execution(row: dict[str, Any], settle: str, raw: str = "") -> FundingReport:
    """An ``execution`` row with ``execType`` Funding as the funding the account paid or got.

    Bybit (docs ``account/transaction-log.mdx``, ``funding`` row): the execution's
    ``execFee`` is **positive when paid**, so the amount received is ``-execFee``; the
    position is ``execQty`` (BTC linear, contracts inverse), long for ``side`` Buy, short for
    Sell; ``execPrice`` is the mark it was charged at. ``feeRate`` carries the sign of the
    payment (``execFee = execValue x feeRate``: ccxt's XMRUSDT example, a short at
    ``feeRate`` -0.000761 with ``execFee`` -0.10232512), so the market's rate is ``feeRate``
    for a long and ``-feeRate`` for a short **[inference from that example]**. A positive
    rate makes a long pay: long 0.093 BTC at 0.0001 pays 0.7506234 USDT."""
    qty = _dec(row.get("execQty"))
    long = row.get("side") == "Buy"
    rate = _dec(row.get("feeRate"))
    return FundingReport(
        venue=NAME,
        symbol=str(row.get("symbol", "")),
        exec_id=str(row.get("execId", "")),
        ts_ms=_settlement_ms(int(row.get("execTime") or 0)),
        rate=rate if long else -rate,
        mark_price=_dec(row.get("execPrice")),
        position=qty if long else -qty,
        amount=-_dec(row.get("execFee")),
        currency=str(row.get("feeCurrency") or settle),
        raw=raw,
    )
