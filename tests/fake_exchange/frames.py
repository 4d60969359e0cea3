"""Real recorded frames and REST answers, loaded from ``tests/data/feeds``.

Frames are sent as recorded; the pretty-printed polyoxide captures are sent compact (the same
JSON object). Where the venues' own captures have no frame of a kind, the fake wraps a real
row in the documented table envelope and says so here: the BitMEX ``instrument`` partial is
the real ``GET /api/v1/instrument/active`` row of the same 2021-07-22 session as the quote
capture, and its periodic ``instrument`` update is the real nautilus index-update row.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent.parent / "data" / "feeds"


def compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def load_json(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@cache
def binance_mark_price() -> str:
    """``btcusdt@markPrice@1s`` combined frame (polyoxide, 2026)."""
    return compact(load_json("binance_ws_btcusdt_markPrice_1s.json"))


@cache
def binance_book_ticker() -> str:
    """``btcusdt@bookTicker`` combined frame (polyoxide, 2026)."""
    return compact(load_json("binance_ws_btcusdt_bookTicker.json"))


@cache
def binance_eth_frames() -> dict[str, str]:
    """Real ETHUSDT frames by stream: ``ethusdt@markPrice@1s`` is the real ETHUSDT row of the
    recorded ``!markPrice@arr`` frame (crypto-msg-parser ``funding_rate.linear_swap_all``,
    2021-04-01) in the per-symbol combined envelope (the same markPriceUpdate object the
    symbol's own stream carries); ``ethusdt@bookTicker`` is the recorded frame
    (``bbo.linear_swap``, 2022-05-29), verbatim."""
    got = crypto_msg_parser("binance_ws_crypto_msg_parser_usdm.jsonl")
    rows = json.loads(got["funding_rate.linear_swap_all"])["data"]
    eth = next(r for r in rows if r["s"] == "ETHUSDT")
    return {
        "ethusdt@markPrice@1s": compact({"stream": "ethusdt@markPrice@1s", "data": eth}),
        "ethusdt@bookTicker": got["bbo.linear_swap"],
    }


@cache
def crypto_msg_parser(name: str) -> dict[str, str]:
    """test name -> raw frame text of a crypto-msg-parser jsonl subset."""
    out = {}
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        raw = rec["raw"]
        out[rec["test"]] = raw if isinstance(raw, str) else compact(raw)
    return out


@cache
def bitmex_capture() -> list[str]:
    """Frames received in the cryptofeed BitMEX capture (2021-07-22), verbatim, in order."""
    out = []
    for line in (DATA / "bitmex_ws_cryptofeed_2021-07-22.txt").read_text().splitlines():
        if not line or line.startswith("wss://"):
            continue
        out.append(line.split(": ", 1)[1])
    return out


def capture_frames(table: str, symbol: str) -> list[str]:
    """Capture frames of ``table`` whose rows are all of ``symbol`` (partial first)."""
    out = []
    for text in bitmex_capture():
        obj = json.loads(text)
        if obj.get("table") == table and obj["data"] and obj["data"][0]["symbol"] == symbol:
            out.append(text)
    return out


def bitmex_welcome() -> str:
    return next(t for t in bitmex_capture() if '"info":"Welcome' in t)


@cache
def bitmex_instruments() -> list[dict[str, Any]]:
    """``GET /api/v1/instrument/active`` rows (2021-07-22 subset: XBTUSD, ETHUSD, SOLUSDT)."""
    rows: list[dict[str, Any]] = load_json("bitmex_rest_instrument_active_2021-07-22.json")
    return rows


def bitmex_instrument_partial(symbol: str) -> str:
    row = next(r for r in bitmex_instruments() if r["symbol"] == symbol)
    return compact(
        {
            "table": "instrument",
            "action": "partial",
            "keys": ["symbol"],
            "filter": {"symbol": symbol},
            "data": [row],
        }
    )


def bitmex_instrument_update(symbol: str) -> str | None:
    """The real nautilus ``instrument`` index update row (XBTUSD) as an update frame."""
    row = load_json("bitmex_ws_instrument_index_update_row.json")
    if row["symbol"] != symbol:
        return None
    return compact({"table": "instrument", "action": "update", "data": [row]})


def bitmex_funding_partial(symbol: str) -> str:
    """crypto-msg-parser's real ``funding`` partial of ``symbol`` (XBTUSD), else an empty
    partial for the symbol (BitMEX sends one when a symbol has no settlement yet)."""
    for test, raw in crypto_msg_parser("bitmex_ws_crypto_msg_parser_funding_quote.jsonl").items():
        if test.startswith("funding_rate.") and json.loads(raw)["data"][0]["symbol"] == symbol:
            return raw
    return compact(
        {
            "table": "funding",
            "action": "partial",
            "keys": ["timestamp", "symbol"],
            "filter": {"symbol": symbol},
            "data": [],
        }
    )


def bitmex_funding_insert() -> str:
    """The real nautilus ``funding`` row (XBTUSD 2024-11-25T04:00Z, 0.0001) as an insert."""
    row = load_json("bitmex_ws_funding_row_2024-11-25.json")
    return compact({"table": "funding", "action": "insert", "data": [row]})
