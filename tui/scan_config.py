"""Write a scanned pair into a config file the operator names (the scanner screen's ``w``),
or make the command that adds it to this session (``a``: :func:`session_pair`).

The file gets one ``[instruments.<id>]`` table per leg (the venue's own specs as the scan read
them: kind, tick, lot, minimums, taker fee; contract size 1 for a linear leg, ``contract_usd``
for an inverse one; the maker fee of the running config's instruments on that venue, else
0.0002, DESIGN's base maker fee of both venues) and one ``[[pairs]]`` entry (the pair's
notional cap from the running config's first pair, else the default; a pair of another asset
than BTC also gets its ``hedge_band`` in that asset, :func:`hedge_band`). An instrument the file
already has (same venue and symbol) is reused, not repeated; a pair the file already has (the
same two instruments) is left as it is; a pair name already taken gets a suffix. The rest of
the pair's settings (``[strategy]``, ``[ladder]``, ``[sizing]``, ``[risk]``) are the file's
own.

An existing file is edited in place with its comments and layout kept (tomlkit); a new file
starts as a copy of the running config (``Settings.source``) when there is one. The text is
checked with the config loader before anything is written, and written whole (temporary file,
then rename): a failed write leaves the file as it was.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import tomlkit

from core.domain.commands import AddPair
from core.domain.config import PairSettings, parse_config
from core.domain.events import InstrumentSpec
from core.domain.scan import Opportunity
from core.domain.universe import Perp

DEFAULT_MAKER_FEE = Decimal("0.0002")


def instrument_id(p: Perp) -> str:
    """``<venue>_<symbol>`` in lower case, other characters as ``_`` (``bybit_btcusd``)."""
    return re.sub(r"[^a-z0-9_]", "_", f"{p.venue}_{p.symbol}".lower())


def _maker_fee(settings: Any, venue: str) -> Decimal:
    for spec in getattr(settings, "instruments", {}).values():
        if spec.venue == venue:
            return Decimal(spec.maker_fee)
    return DEFAULT_MAKER_FEE


def instrument_table(p: Perp, maker_fee: Decimal) -> dict[str, str]:
    """The ``[instruments.<id>]`` entries of ``p`` (numbers as strings: read as Decimal)."""
    size = "1" if p.kind == "linear" else format(Decimal(repr(p.contract_usd)).normalize(), "f")
    return {
        "venue": p.venue,
        "symbol": p.symbol,
        "kind": p.kind,
        "contract_size": size,
        "tick": str(p.tick),
        "lot": str(p.lot),
        "min_qty": str(p.min_qty),
        "min_notional": str(p.min_notional),
        "maker_fee": str(maker_fee),
        "taker_fee": str(Decimal(repr(p.taker_fee))),
        "settle_currency": p.settle,
        "quote": p.quote,
    }


def _base_text(path: Path, settings: Any) -> str:
    if path.exists():
        return path.read_text(encoding="utf-8")
    source = getattr(settings, "source", "")
    if source and Path(source).is_file():
        return Path(source).read_text(encoding="utf-8")
    return ""


def add_pair(text: str, o: Opportunity, settings: Any = None) -> tuple[str, str]:
    """``text`` (a config file's TOML) with ``o``'s instruments and pair added; returns
    (new text, pair name), or ``text`` itself when the file already pairs the two. Raises
    :class:`core.domain.config.ConfigError` when the result would not load."""
    doc = tomlkit.parse(text)
    instruments = doc.setdefault("instruments", tomlkit.table(is_super_table=True))
    ids = []
    for p in (o.short.perp, o.long.perp):
        found = next(
            (
                k
                for k, v in instruments.items()
                if v.get("venue") == p.venue and v.get("symbol") == p.symbol
            ),
            None,
        )
        if found is None:
            found = instrument_id(p)
            table = tomlkit.table()
            for k, v in instrument_table(p, _maker_fee(settings, p.venue)).items():
                table.add(k, v)
            instruments.add(found, table)
        ids.append(str(found))
    pairs = doc.setdefault("pairs", tomlkit.aot())
    for p in pairs:
        if {str(p.get("leg_a")), str(p.get("leg_b"))} == set(ids):
            return text, str(p.get("name"))  # already there: nothing to add
    name = pair_name(o, {str(p.get("name")) for p in pairs})
    pair = tomlkit.table()
    pair.add("name", name)
    pair.add("leg_a", ids[0])
    pair.add("leg_b", ids[1])
    existing = getattr(settings, "pairs", ())
    cap = Decimal(60_000)
    if existing:
        cap = existing[0].max_notional_usd
        pair.add("max_notional_usd", int(cap))
    if needs_own_band(o):
        pair.add("hedge_band", hedge_band(o, cap))
    pair.add(tomlkit.nl())
    pairs.append(pair)
    out = tomlkit.dumps(doc)
    parse_config(out, "<scanned pair>")
    return out, name


HEDGE_BAND_SHARE = Decimal("0.05")
"""A scanned pair of another asset than BTC gets a hedge band worth this share of its leg
cap at the scanned mark (``[hedge] band_btc`` is in BTC: 0.1 BTC is about 5-10 % of the
default 60,000 USD cap at 2024's prices)."""


def needs_own_band(o: Opportunity) -> bool:
    """True when ``o`` trades another asset than BTC (XBT): ``[hedge] band_btc`` is in BTC,
    so the pair needs a ``hedge_band`` in its own asset (:func:`hedge_band`)."""
    return o.asset.upper() not in ("BTC", "XBT")


def hedge_band(o: Opportunity, cap_usd: Decimal) -> str:
    """``hedge_band`` of a scanned pair, in its asset's units: :data:`HEDGE_BAND_SHARE` of
    ``cap_usd`` at the short leg's mark, floored to the coarser lot of the two legs (linear
    legs; at least one lot). An inverse leg's lot is in contracts: the band is then the
    share of the cap in the asset, not floored."""
    mark = Decimal(repr(o.short.perp.mark))
    raw = cap_usd * HEDGE_BAND_SHARE / mark if mark > 0 else Decimal(1)
    lots = [p.lot for p in (o.short.perp, o.long.perp) if p.kind == "linear" and p.lot > 0]
    if lots:
        lot = max(lots)
        raw = max(lot, (raw // lot) * lot)
    return format(raw.normalize(), "f")


def pair_name(o: Opportunity, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """``<asset>-<short venue>-<long venue>`` (as ``w`` names it), with ``-2``, ``-3``, ...
    when ``taken`` has it."""
    name = base = f"{o.asset}-{o.short.perp.venue}-{o.long.perp.venue}"
    n = 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def session_pair(o: Opportunity, settings: Any = None, taken: set[str] | None = None) -> AddPair:
    """The :class:`~core.domain.commands.AddPair` that adds ``o`` to this session (the
    scanner's ``a``): leg a the short leg, leg b the long one (leg a's funding is the
    higher), each as the running config has it (same venue and symbol: its id and spec),
    else under :func:`instrument_id` with the scan's specs (:func:`instrument_table`; the
    runtime reads the venue's own before the pair trades); the name as :func:`pair_name`
    gives it outside ``taken``; the notional cap of the config's first pair (USD per leg),
    else the default. Raises ``msgspec.ValidationError`` for a scan row whose specs do not
    convert."""
    ids: list[str] = []
    specs: list[InstrumentSpec] = []
    known: dict[str, InstrumentSpec] = dict(getattr(settings, "instruments", {}) or {})
    for p in (o.short.perp, o.long.perp):
        iid, spec = next(
            ((i, s) for i, s in known.items() if (s.venue, s.symbol) == (p.venue, p.symbol)),
            (instrument_id(p), None),
        )
        if spec is None:
            spec = msgspec.convert(instrument_table(p, _maker_fee(settings, p.venue)),
                                   InstrumentSpec, strict=False)  # fmt: skip
        ids.append(iid)
        specs.append(spec)
    existing = getattr(settings, "pairs", ())
    cap = {"max_notional_usd": existing[0].max_notional_usd} if existing else {}
    pair = PairSettings(name=pair_name(o, taken or set()), leg_a=ids[0], leg_b=ids[1], **cap)
    if needs_own_band(o):
        band = Decimal(hedge_band(o, pair.max_notional_usd))
        pair = msgspec.structs.replace(pair, hedge_band=band)
    return AddPair(pair=pair, spec_a=specs[0], spec_b=specs[1])


def write_pair(path: str | os.PathLike[str], o: Opportunity, settings: Any = None) -> str:
    """Add ``o`` to the config file at ``path`` (see the module docstring); returns the
    pair's name. Raises ConfigError (the result would not load) or OSError (not written)."""
    target = Path(path).expanduser()
    text, name = add_pair(_base_text(target, settings), o, settings)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return name
