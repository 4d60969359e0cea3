"""The BitMEX keyed table store applies partial/insert/update/delete as HAZARDS H12 says,
checked on the real 2021-07-22 capture (cryptofeed) and on single real rows."""

from __future__ import annotations

import json

from core.venues.bitmex.tables import TableStore
from tests.fake_exchange import frames


def _apply(store: TableStore, text: str):  # type: ignore[no-untyped-def]
    m = json.loads(text)
    flt = (m.get("filter") or {}).get("symbol")
    return store.apply(m["table"], m["action"], m["data"], m.get("keys"), flt)


def test_the_real_capture_applies_without_a_single_unknown_id() -> None:
    store = TableStore()
    unknown = early = 0
    for text in frames.bitmex_capture():
        m = json.loads(text)
        if m.get("table") in ("orderBookL2", "quote"):
            out = _apply(store, text)
            unknown += out.unknown
            early += out.early
    assert unknown == 0 and early == 0
    book = store.get("orderBookL2", "SOLUSDT")
    assert book.ready and book.keys == ("symbol", "id", "side")
    assert all(r["symbol"] == "SOLUSDT" and "price" in r for r in book.rows.values())


def test_a_sparse_update_changes_size_and_keeps_the_price_from_the_partial() -> None:
    store = TableStore()
    sol = frames.capture_frames("orderBookL2", "SOLUSDT")
    _apply(store, sol[0])
    upd = next(json.loads(t) for t in sol if '"action":"update"' in t)
    row = upd["data"][0]
    key = ("SOLUSDT", row["id"], row["side"])
    before = dict(store.get("orderBookL2", "SOLUSDT").rows[key])
    assert "price" not in row
    _apply(store, json.dumps(upd))
    after = store.get("orderBookL2", "SOLUSDT").rows[key]
    assert after["size"] == row["size"] and after["price"] == before["price"]


def test_an_update_before_the_partial_is_dropped_and_the_table_is_not_ready() -> None:
    store = TableStore()
    sol = frames.capture_frames("orderBookL2", "SOLUSDT")
    upd = next(t for t in sol if '"action":"update"' in t)
    out = _apply(store, upd)
    assert out.early == 1 and not out.changes and not out.dirty
    assert not store.ready("orderBookL2", "SOLUSDT")
    _apply(store, sol[0])
    assert store.ready("orderBookL2", "SOLUSDT")


def test_an_update_for_an_id_never_seen_marks_the_table_dirty() -> None:
    store = TableStore()
    sol = frames.capture_frames("orderBookL2", "SOLUSDT")
    _apply(store, sol[0])
    ins_i = next(i for i, t in enumerate(sol) if '"id":54899972551' in t and "insert" in t)
    upd_i = next(i for i, t in enumerate(sol) if '"id":54899972551' in t and "update" in t)
    assert ins_i < upd_i
    for t in sol[1:upd_i]:
        if t is not sol[ins_i]:  # the insert is lost
            _apply(store, t)
    out = _apply(store, sol[upd_i])
    assert out.unknown == 1 and out.dirty == [("orderBookL2", "SOLUSDT")]
    assert not store.ready("orderBookL2", "SOLUSDT")
    assert store.get("orderBookL2", "SOLUSDT").rows == {}


def test_a_second_symbols_partial_leaves_the_first_symbols_table_untouched() -> None:
    store = TableStore()
    xbt = frames.capture_frames("quote", "XBTUSD")
    for t in xbt[:3]:
        _apply(store, t)
    first = list(store.get("quote", "XBTUSD").recent)
    _apply(store, frames.capture_frames("quote", "SOLUSDT")[0])
    assert list(store.get("quote", "XBTUSD").recent) == first
    assert store.ready("quote", "XBTUSD") and store.ready("quote", "SOLUSDT")
    assert store.get("quote", "SOLUSDT").recent[-1]["symbol"] == "SOLUSDT"


def test_a_delete_removes_the_row_and_a_second_delete_goes_dirty() -> None:
    store = TableStore()
    sol = frames.capture_frames("orderBookL2", "SOLUSDT")
    _apply(store, sol[0])
    d = next(json.loads(t) for t in sol if '"action":"delete"' in t)
    # the capture's first delete is of a row inserted after the partial: insert it first
    for t in sol[1:]:
        if json.loads(t) == d:
            break
        _apply(store, t)
    assert _apply(store, json.dumps(d)).changes[0].action == "delete"
    again = _apply(store, json.dumps(d))
    assert again.unknown == 1 and again.dirty
