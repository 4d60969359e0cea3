"""The columnar replay form: an Arrow IPC file (``.arrow``), decoded once, read memory-mapped.

Same events as a JSON-lines replay (:mod:`core.domain.events`), one row each, in replay order;
the header is the schema's metadata (``arbtui_header``: the header line's JSON). Columns
(nullable unless said): ``kind`` int8 (0 bar, 1 quote, 2 funding, 3 funding_rate; not null),
``ts_ms`` int64 (not null), ``venue``/``symbol`` dictionary strings (not null),
``open_ts_ms``/``interval_ms``/``settlement_ts_ms`` int64, ``open``/``high``/``low``/``close``/
``volume``/``mark``/``index``/``bid``/``ask`` float64, ``rate``/``mark_price``/``raw_ts``/
``raw_rate`` strings (Decimals as their exact text), ``fixed`` bool. Uncompressed, so a file
mapped by several processes is one copy in the page cache (the optimiser's workers share it).

Reading checks time order and the ``ts_ms`` range per record batch with Arrow compute (no
per-event check in Python), and the funding rates and settlement instants of each slice of
rows it builds (:func:`core.domain.funding_caps.first_funding_fault`, the importer's rule: one
C-level ``max`` over the few settlements and rates), one batch at a time: memory stays flat
for any file length.

Needs ``pyarrow`` (the optional extra ``arbtui[arrow]``); :func:`require_pyarrow` says so.
Depends on :mod:`core.domain` only; :mod:`core.analysis.replay` wraps its errors with the
file name (:class:`ArrowReplayError` carries the message).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from itertools import chain
from pathlib import Path
from typing import Any

from core.domain import timeutil
from core.domain.events import (
    ORDER,
    Bar,
    Event,
    FundingRate,
    FundingSettled,
    Quote,
    ReplayHeader,
    decode,
    encode,
)
from core.domain.funding_caps import Caps, cap_floor, first_funding_fault

#: The first bytes of an Arrow IPC file.
MAGIC = b"ARROW1"
#: Rows per record batch written (one batch of events is built at a time when reading).
BATCH_ROWS = 65_536
#: Rows turned into events at a time when reading (a slice of a record batch, zero-copy).
DECODE_ROWS = 4096
_META = b"arbtui_header"
_KINDS: tuple[type, ...] = (Bar, Quote, FundingSettled, FundingRate)
_KIND_OF: dict[type, int] = {t: i for i, t in enumerate(_KINDS)}
#: ``ORDER`` of each kind (the tie-break at one ``ts_ms``).
_ORDER_OF_KIND = [ORDER[t.__struct_config__.tag] for t in _KINDS]  # type: ignore[attr-defined]
_INTS = ("open_ts_ms", "interval_ms", "settlement_ts_ms")
_FLOATS = ("open", "high", "low", "close", "volume", "mark", "index", "bid", "ask")
_TEXTS = ("rate", "mark_price", "raw_ts", "raw_rate")
_TAGS = ("venue", "symbol")
COLUMNS = ("kind", "ts_ms", "venue", "symbol", *_INTS, *_FLOATS, *_TEXTS, "fixed")


class ArrowReplayError(ValueError):
    """A columnar replay is unreadable or breaks the format (message says why; ``row`` is the
    0-based event row when one is at fault)."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row


def require_pyarrow() -> Any:
    """``pyarrow``, or an :class:`ArrowReplayError` naming the extra to install."""
    try:
        import pyarrow
    except ImportError:
        raise ArrowReplayError(
            "the columnar replay form (.arrow) needs pyarrow: pip install 'arbtui[arrow]'"
        ) from None
    return pyarrow


def is_arrow(path: str | Path) -> bool:
    """True when ``path`` starts with the Arrow IPC file magic."""
    try:
        with open(path, "rb") as fh:
            return fh.read(6) == MAGIC
    except OSError:
        return False


def _schema(pa: Any, header: ReplayHeader) -> Any:
    text = pa.dictionary(pa.int32(), pa.string())
    fields = [
        pa.field("kind", pa.int8(), nullable=False),
        pa.field("ts_ms", pa.int64(), nullable=False),
        pa.field("venue", text, nullable=False),
        pa.field("symbol", text, nullable=False),
        *(pa.field(n, pa.int64()) for n in _INTS),
        *(pa.field(n, pa.float64()) for n in _FLOATS),
        *(pa.field(n, pa.string()) for n in _TEXTS),
        pa.field("fixed", pa.bool_()),
    ]
    return pa.schema(fields, metadata={_META: encode(header)})


def _row(ev: Event) -> tuple[Any, ...]:
    g = getattr
    return (
        _KIND_OF[type(ev)],
        ev.ts_ms,
        ev.venue,
        ev.symbol,
        *(g(ev, n, None) for n in _INTS),
        *(g(ev, n, None) for n in _FLOATS),
        *(None if (v := g(ev, n, None)) is None else str(v) for n in _TEXTS),
        g(ev, "fixed", None),
    )


def write_arrow(out: str | Path, header: ReplayHeader, events: Iterable[Event]) -> Path:
    """Write ``events`` (replay order) as a columnar replay at ``out``, atomically; returns it."""
    pa = require_pyarrow()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    schema = _schema(pa, header)
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        rows: list[tuple[Any, ...]] = []

        def flush() -> None:
            cols = list(zip(*rows, strict=True)) if rows else [()] * len(COLUMNS)
            arrays = [pa.array(c, type=f.type) for c, f in zip(cols, schema, strict=True)]
            writer.write_batch(pa.record_batch(arrays, schema=schema))
            rows.clear()

        for ev in events:
            rows.append(_row(ev))
            if len(rows) >= BATCH_ROWS:
                flush()
        if rows:
            flush()
    tmp.replace(out)
    return out


def open_arrow(source: str | Path | Any) -> tuple[ReplayHeader, Any]:
    """The header and the open IPC reader of a columnar replay: ``source`` is a path (memory
    mapped) or a buffer (e.g. one read from Ray's object store)."""
    pa = require_pyarrow()
    try:
        if isinstance(source, str | Path):
            reader = pa.ipc.open_file(pa.memory_map(str(source), "r"))
        else:
            reader = pa.ipc.open_file(pa.py_buffer(source))
    except (OSError, pa.ArrowInvalid) as exc:
        raise ArrowReplayError(f"not a columnar replay: {exc}") from None
    meta = reader.schema.metadata or {}
    if _META not in meta:
        raise ArrowReplayError("not a columnar replay: no arbtui_header in its schema")
    header = decode(meta[_META])
    if not isinstance(header, ReplayHeader):
        raise ArrowReplayError("not a columnar replay: its header is not a replay header")
    missing = [c for c in COLUMNS if c not in reader.schema.names]
    if missing:
        raise ArrowReplayError(f"columnar replay lacks columns: {', '.join(missing)}")
    return header, reader


def iter_arrow(
    source: str | Path | Any, caps: Caps | None = None
) -> tuple[ReplayHeader, Iterator[Event]]:
    """The header and a lazy iterator over the events of a columnar replay (one record
    batch decoded at a time; time order, ``ts_ms`` range and rates checked per batch:
    :func:`iter_arrow_blocks`). Raises :class:`ArrowReplayError`."""
    header, blocks = iter_arrow_blocks(source, caps)
    return header, chain.from_iterable(blocks)


def iter_arrow_blocks(
    source: str | Path | Any, caps: Caps | None = None
) -> tuple[ReplayHeader, Iterator[list[Event]]]:
    """:func:`iter_arrow` a block of events at a time (at most :data:`DECODE_ROWS`; in replay
    order), so that a reader hands the events on by C-level iteration
    (``itertools.chain.from_iterable``), not a generator step an event. Errors name the row:
    an unknown kind, an event out of time order, ``field ts_ms`` outside the sane range
    (:func:`core.domain.timeutil.check_range_ms`), ``field rate`` implausible or beyond its
    entry of ``caps`` (:mod:`core.domain.funding_caps`; None: plausibility only),
    ``field settlement_ts_ms`` outside the sane range."""
    pa = require_pyarrow()
    import pyarrow.compute as pc

    header, reader = open_arrow(source)
    order = pa.array(_ORDER_OF_KIND, pa.int64())
    caps = caps or {}
    floor = cap_floor(caps)

    def blocks() -> Iterator[list[Event]]:
        last = -1
        row0 = 0
        for b in range(reader.num_record_batches):
            batch = reader.get_batch(b)
            n = batch.num_rows
            if n == 0:
                continue
            kind = batch.column("kind")
            if pc.any(pc.greater_equal(kind, len(_KINDS))).as_py() or kind.null_count:
                raise ArrowReplayError("an unknown event kind", row0)
            # one sort key per row: ts_ms * 4 + ORDER[kind]; sorted <=> keys never decrease
            ts_col = batch.column("ts_ms")
            key = pc.add(pc.multiply(ts_col, 4), pc.take(order, kind))
            first = key[0].as_py()
            bounds = pc.min_max(ts_col).as_py()
            if (
                first < last
                or bounds["min"] < timeutil.MIN_TS_MS
                or bounds["max"] >= timeutil.MAX_TS_MS
                or (n > 1 and not pc.all(pc.greater_equal(key[1:], key[:-1])).as_py())
            ):
                raise _first_fault(ts_col.to_pylist(), key.to_pylist(), last, row0)
            last = key[n - 1].as_py()
            for off in range(0, n, DECODE_ROWS):  # few Python objects alive at once
                events, rated = _decode_batch(batch.slice(off, DECODE_ROWS))
                if rated:
                    fault = first_funding_fault([events[i] for i in rated], caps, floor)  # type: ignore[misc]
                    if fault is not None:
                        row = row0 + off + rated[fault[0]]
                        raise ArrowReplayError(fault[1], row)
                yield events
            row0 += n
        if row0 != header.events:
            raise ArrowReplayError(
                f"the file ends after {row0} events; its header promises {header.events}", row0
            )

    return header, blocks()


def _first_fault(ts: list[int], keys: list[int], last: int, row0: int) -> ArrowReplayError:
    """The error of a record batch (first row ``row0``) whose sort ``keys`` fall or whose
    ``ts`` leave the sane range: the first ``ts_ms`` out of range up to the first fall (in
    the importer's words, :func:`core.domain.timeutil.check_range_ms`), else that fall."""
    drop = first_drop(keys, last)
    for i, ts_ms in enumerate(ts[: drop + 1]):
        try:
            timeutil.check_range_ms(ts_ms)
        except ValueError as exc:
            return ArrowReplayError(f"field ts_ms: {exc}", row0 + i)
    return ArrowReplayError(f"event out of time order (ts_ms {ts[drop]})", row0 + drop)


def first_drop(keys: list[int], last: int) -> int:
    """The index of the first key below the one before it (``last`` before the first): where
    a block of sort keys found out of order (either replay form) first goes wrong."""
    for i, k in enumerate(keys):
        if k < last:
            return i
        last = k
    return len(keys) - 1


def _decode_batch(batch: Any) -> tuple[list[Event], list[int]]:
    """The events of one record batch, in row order: the bars (nearly every row) in one
    comprehension, the few other rows one by one, put back at their rows; and the rows of
    the settlements and rates among them (the events that carry a rate)."""
    import pyarrow.compute as pc

    kind = batch.column("kind")
    is_bar = pc.equal(kind, 0)
    others = pc.indices_nonzero(pc.invert(is_bar)).to_pylist()
    bars_batch = batch.filter(is_bar) if others else batch
    c = _columns(bars_batch, ("ts_ms", "venue", "symbol", "open_ts_ms", "interval_ms",
                              "open", "high", "low", "close", "volume"))  # fmt: skip
    out: list[Event] = [
        Bar(
            ts_ms=ts,
            venue=v,
            symbol=s,
            open_ts_ms=ot,
            interval_ms=iv,
            open=o,
            high=h,
            low=lo,
            close=cl,
            volume=vol,
        )
        for ts, v, s, ot, iv, o, h, lo, cl, vol in zip(*c, strict=True)
    ]
    if not others:
        return out, []
    rest = _columns(batch.take(others), COLUMNS)
    for row, (k, ts, v, s, _ot, iv, st, *_f, m, ix, bd, ak, r, mp, rts, rr, fx) in zip(
        others, zip(*rest, strict=True), strict=True
    ):
        ev: Event
        if k == 1:
            ev = Quote(ts_ms=ts, venue=v, symbol=s, mark=m, index=ix, bid=bd, ask=ak)
        elif k == 2:
            ev = FundingSettled(
                ts_ms=ts, venue=v, symbol=s, rate=Decimal(r), interval_ms=iv,
                mark_price=None if mp is None else Decimal(mp), raw_ts=rts or "",
                raw_rate=rr or "", settlement_ts_ms=st,
            )  # fmt: skip
        else:
            ev = FundingRate(
                ts_ms=ts, venue=v, symbol=s, rate=Decimal(r), settlement_ts_ms=st,
                interval_ms=iv, fixed=fx,
            )  # fmt: skip
        out.insert(row, ev)  # rows ascending: every earlier row is already in place
    return out, [row for row in others if type(out[row]) is not Quote]


def _columns(batch: Any, names: tuple[str, ...]) -> list[list[Any]]:
    """Python lists of ``names``; dictionary columns with one str object per distinct value."""
    cols = []
    for name in names:
        col = batch.column(name)
        if name in _TAGS:
            values = col.dictionary.to_pylist()
            cols.append([values[i] for i in col.indices.to_pylist()])
        else:
            cols.append(col.to_pylist())
    return cols
