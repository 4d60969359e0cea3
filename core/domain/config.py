"""Settings: ``config.toml`` read into frozen, typed structs that reject unknown keys.

Which file: ``--config PATH``, else ``$ARBTUI_CONFIG``, else ``./config.toml`` if present, else
the defaults shipped inside the package (:data:`DEFAULT_CONFIG`, the same text as the
repository's ``config.toml``). API keys never live here: they come from environment variables.

Errors: :class:`ConfigError`, whose message names the file and the dotted key, e.g.
``config.toml: strategy.entry_edge_pct: Expected `float`, got `str```.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Literal

import msgspec
import msgspec.inspect

from core.domain.contracts import base_asset, is_coin
from core.domain.errors import BadInput
from core.domain.events import InstrumentSpec
from core.domain.plumbing_settings import (
    AuditSettings as AuditSettings,
)
from core.domain.plumbing_settings import (
    BinanceVenueSettings as BinanceVenueSettings,
)
from core.domain.plumbing_settings import (
    BybitVenueSettings as BybitVenueSettings,
)
from core.domain.plumbing_settings import (
    FeedSettings as FeedSettings,
)
from core.domain.plumbing_settings import (
    LogSettings as LogSettings,
)
from core.domain.plumbing_settings import (
    MetricsSettings as MetricsSettings,
)
from core.domain.plumbing_settings import (
    QueueSettings as QueueSettings,
)
from core.domain.plumbing_settings import Strict as _Strict
from core.domain.plumbing_settings import (
    VenuesSettings as VenuesSettings,
)

#: The defaults shipped inside the package (read when no config file is found).
DEFAULT_CONFIG = Path(__file__).with_name("default_config.toml")


class ConfigError(BadInput):
    """A config file is missing, is not TOML, or has a key of the wrong name, type or value."""


Capital = dict[str, dict[str, Decimal]]
"""Starting balances of the paper / replay accounts: ``[capital.<venue>]`` tables of
``CURRENCY = amount`` (``USDT = 100000``, ``BTC = 0.5``); a coin currency's USD value moves with
the coin's mark."""


class PairSettings(_Strict, frozen=True):
    """A pair of legs on two venues, by instrument id (keys of ``[instruments]``)."""

    name: str
    leg_a: str
    leg_b: str
    max_notional_usd: Decimal = Decimal(60_000)
    """Cap on each leg's notional in USD (the pair holds two legs of about this size)."""
    hedge_band: Decimal | None = None
    """This pair's hedge band in its base asset's units (XRP for an XRPUSDT pair; BTC for a
    BTC pair; inverse legs count contracts x contract size / mark): its hedger acts only when
    |its two legs' net delta| exceeds this. Unset: ``[hedge] band_btc``, which only a BTC
    pair may use (:func:`core.domain.contracts.base_asset`)."""
    hedge_target: Decimal | None = None
    """Trade |net delta| back to this (base units, below ``hedge_band``). Unset: 0 with a
    ``hedge_band``, else ``[hedge] target_btc``."""
    hedge_wide_band: Decimal | None = None
    """Outside this (base units, >= ``hedge_band``) the hedger does not wait for
    ``[hedge] min_interval_s``. Unset: 1.5 x ``hedge_band`` with a ``hedge_band``, else
    ``[hedge]``'s wide band."""

    def band(self, hedge: HedgeSettings) -> tuple[Decimal, Decimal, Decimal]:
        """(band, target, wide band) of this pair's hedger, in its base asset's units: its
        own ``hedge_*`` keys, else ``[hedge]``'s BTC figures (a BTC pair only; checked)."""
        if self.hedge_band is None:
            return hedge.band_btc, hedge.target_btc, hedge.wide_band()
        wide = self.hedge_wide_band
        return (
            self.hedge_band,
            self.hedge_target if self.hedge_target is not None else Decimal(0),
            wide if wide is not None else self.hedge_band * Decimal("1.5"),
        )


class StrategySettings(_Strict, frozen=True):
    """Funding-arb signal. Rates are compared per hour (DESIGN, HAZARDS H1)."""

    holding_hours: float = 72.0
    """Horizon over which the expected carry is counted for the entry decision (hours)."""
    entry_edge_pct: float = 0.6
    """Enter when carry over the horizon minus round-trip taker fees minus the basis paid to
    cross exceeds this (% of notional)."""
    exit_apr_pct: float = 10.0
    """Exit threshold (APR %, below the entry's: hysteresis). An observation counts towards
    an exit when what the held carry falls short of this over ``holding_hours`` exceeds what
    leaving costs now (both legs' taker fees and the basis given up by crossing)."""
    observations: int = 3
    """Consecutive observations the entry condition must hold."""
    exit_observations: int = 3
    """Consecutive observations the exit condition must hold (a flip must last)."""
    min_hold_hours: float = 24.0
    """No exit on the signal before the position is this old (hours; risk closes any time)."""
    observe_every_s: int = 3600
    """Sim seconds between two observations of the signal."""
    use_ema_filter: bool = False
    """Require fast EMA >= slow EMA of the spread (in the trade's direction) for entries
    and adds."""
    ema_fast: int = 3
    """Fast EMA span, in observations."""
    ema_slow: int = 12
    """Slow EMA span, in observations."""


class LadderSettings(_Strict, frozen=True):
    """DCA ladder per leg: level i triggers at ``deltas_pct[i]`` % from the leg's first fill
    (a long leg as price falls, a short leg as price rises) and is sized at
    ``multipliers[i]`` x the base notional. Level 0 is the entry (delta 0)."""

    deltas_pct: tuple[float, ...] = (0.0, 3.0, 6.0, 10.0, 15.0)
    multipliers: tuple[float, ...] = (1.0, 1.0, 1.5, 2.0, 2.5)


class SizingSettings(_Strict, frozen=True):
    """Size of a ladder level: base x multiplier x volatility scale, capped by free capital
    and the leg's and pair's notional limits."""

    base_notional_usd: Decimal = Decimal(10_000)
    leg_max_notional_usd: Decimal = Decimal(50_000)
    vol_lookback_hours: int = 24
    """Window of hourly log returns for realised volatility."""
    vol_target_pct: float = 80.0
    """Annualised volatility (%) at and below which levels get full size."""
    min_scale: float = 0.25
    """Smallest volatility scale applied (so a level never shrinks to nothing)."""


class HedgeSettings(_Strict, frozen=True):
    """Delta hedger: net BTC = linear qty + inverse contracts / mark (+ the coin margin of
    inverse legs if included) + IBIT shares x BTC per share. With hysteresis: it acts only
    when |net| is outside ``band_btc``, trades back to ``target_btc`` (inside the band), and
    waits ``min_interval_s`` after a hedge before the next one unless |net| is outside
    ``wide_band_btc``; within that time it never reverses the previous hedge for a move of
    the delta smaller than the band. The hedge that completes an entry or a ladder add goes
    at once."""

    band_btc: Decimal = Decimal("0.02")
    """Act only when |net delta| exceeds this (BTC)."""
    target_btc: Decimal = Decimal(0)
    """Trade |net delta| back to this (BTC, same sign as the delta; 0 = neutral); must lie
    below ``band_btc``."""
    wide_band_btc: Decimal | None = None
    """Outside this (BTC) the hedger does not wait for ``min_interval_s``; unset = 1.5 x
    ``band_btc``. Must be >= ``band_btc``."""
    min_interval_s: float = 600.0
    """Sim seconds after a hedge before the next one, unless |net| is outside the wide band
    (0 = no wait)."""
    fresh_price_s: float = 60.0
    """A price at most this old (sim seconds) counts as one of this instant: the hedger
    prefers a leg priced now, and a ladder level is added only while both legs are (the
    add's hedge fills on the other leg). So a bar replay whose venues' bars close at other
    instants (1 h against 1 m bars; 8 h bars 4 h apart) fills no order at an older price;
    live quotes are always this fresh."""

    def wide_band(self) -> Decimal:
        """The wide band in BTC (``wide_band_btc``, else 1.5 x ``band_btc``)."""
        if self.wide_band_btc is not None:
            return self.wide_band_btc
        return self.band_btc * Decimal("1.5")

    include_coin_margin: bool = False
    """Count the coin (XBT, BTC) held as inverse margin as BTC exposure (set when that
    collateral is unhedged)."""


class IbitSettings(_Strict, frozen=True):
    """BTC exposure held outside the venues as IBIT shares (counted in net delta)."""

    shares: Decimal = Decimal(0)
    btc_per_share: Decimal = Decimal("0.000568")


class RiskSettings(_Strict, frozen=True):
    """Risk limits enforced by the risk gate."""

    drawdown_limit_pct: float = 10.0
    """Drawdown of equity from its peak (%) that flattens everything and HALTs."""
    max_leverage: float = 3.0
    """Total gross notional / equity allowed after an order."""
    leg_timeout_s: float = 10.0
    """Single-leg guard: seconds the second leg of an entry may take to fill before the
    pair goes to leg risk and unwinds the filled leg."""
    start_state: Literal["DISARMED", "ARMED"] = "DISARMED"
    """State at start-up in paper and live modes (replays use ``replay.auto_arm``)."""
    position_mismatch: Literal["rehedge", "flatten"] = "rehedge"
    """What the live engine does when a venue holds another size than the ledger and no
    order of ours explains it (liquidation, auto-deleverage, a manual trade, an expired
    order): the ledger takes the venue's size, entries and adds stop (PAUSED), then
    ``rehedge`` trims the other leg (or the grown leg) reduce-only back to a hedge of the
    venue's truth, or ``flatten`` closes both legs reduce-only (REDUCING)."""
    max_book_notional_usd: Decimal = Decimal(0)
    """Book limit: the gross notional of every pair's legs together (USD at the marks; a
    linear leg |qty| x contract size x mark, an inverse one its contracts' USD) may not
    exceed this after an entry or a ladder add (the add's own hedge counted). 0 = off.
    Reduce-only orders and hedges are never refused by it."""
    max_venue_margin_pct: float = 0.0
    """Venue limit: the initial margin in use at one venue (each of its positions' notional /
    ``venue_leverage``, USD) may not exceed this % of that venue's equity (its balances,
    a coin at the coin's mark, plus its positions' unrealised PnL, USD) after an entry or a
    ladder add. 0 = off. Reduce-only orders and hedges are never refused by it."""
    venue_leverage: float = 5.0
    """The leverage the desk sets on its venue accounts (x): initial margin = notional / this.
    Used only by ``max_venue_margin_pct``."""
    on_restart: Literal["ask", "adopt", "flatten", "leave"] = "ask"
    """Live start-up found positions or open orders that the last run's audit log does not
    explain (a pair the last run left open, held exactly as it left it, is always adopted):
    ``ask`` the operator (HALTED until answered: console palette, or start again with
    another value), or answer ``adopt``, ``flatten`` or ``leave`` at once
    (:mod:`core.engine.restart`)."""


class PaperSettings(_Strict, frozen=True):
    """Paper venue: fills at the current price with taker fee and this slippage."""

    slippage_bps: float = 2.0


class ReplaySettings(_Strict, frozen=True):
    """Replay clock."""

    speed: float = 14400.0
    """Sim seconds per wall second in the console (3600 = one hour a second; the default, four
    hours a second, shows the shipped default replay's first entry within 30 s); 0 = as fast
    as possible. Headless replays always run as fast as possible."""
    auto_arm: bool = True
    """Start replays ARMED (a replay trades nothing real)."""


class OptimizeSettings(_Strict, frozen=True):
    """Where ``arbtui optimize`` runs (its ``--cluster`` overrides)."""

    cluster: str = ""
    """Empty: local worker processes. ``auto`` (the Ray cluster this machine joined),
    ``local`` (a Ray started for the run) or ``ray://HOST:PORT`` (Ray client; ``arbtui[ray]``)."""


class Settings(_Strict, frozen=True):
    """The whole configuration (``config.toml``)."""

    capital: Capital = msgspec.field(default_factory=dict)
    instruments: dict[str, InstrumentSpec] = msgspec.field(default_factory=dict)
    pairs: tuple[PairSettings, ...] = ()
    strategy: StrategySettings = StrategySettings()
    ladder: LadderSettings = LadderSettings()
    sizing: SizingSettings = SizingSettings()
    hedge: HedgeSettings = HedgeSettings()
    ibit: IbitSettings = IbitSettings()
    risk: RiskSettings = RiskSettings()
    paper: PaperSettings = PaperSettings()
    replay: ReplaySettings = ReplaySettings()
    optimize: OptimizeSettings = OptimizeSettings()
    feeds: FeedSettings = FeedSettings()
    audit: AuditSettings = AuditSettings()
    logs: LogSettings = LogSettings()
    metrics: MetricsSettings = MetricsSettings()
    queue: QueueSettings = QueueSettings()
    venues: VenuesSettings = VenuesSettings()
    source: str = ""
    """Where these settings were read from (filled in by :func:`load_config`)."""

    def capital_by_key(self) -> dict[tuple[str, str], Decimal]:
        """Starting balances by (venue, currency)."""
        return {(v, cur): amt for v, by_cur in self.capital.items() for cur, amt in by_cur.items()}

    def traded_ids(self) -> list[str]:
        """Instrument ids used by the configured pairs, in pair order, each once."""
        return list(dict.fromkeys(iid for p in self.pairs for iid in (p.leg_a, p.leg_b)))

    def instrument(self, venue: str, symbol: str) -> InstrumentSpec | None:
        """The spec for ``venue``/``symbol``, or None."""
        for spec in self.instruments.values():
            if spec.venue == venue and spec.symbol == symbol:
                return spec
        return None


def resolve_config_path(cli_path: str | os.PathLike[str] | None) -> Path:
    """``--config``, else ``$ARBTUI_CONFIG``, else ``./config.toml``, else the packaged default."""
    if cli_path:
        return Path(cli_path)
    env = os.environ.get("ARBTUI_CONFIG")
    if env:
        return Path(env)
    local = Path("config.toml")
    return local if local.is_file() else DEFAULT_CONFIG


def load_config(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read and check a config file (see :func:`resolve_config_path` for which one).

    Raises :class:`ConfigError` naming the file and the key on any problem.
    """
    file = resolve_config_path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read config file: {exc.strerror}") from None
    return _env_overrides(parse_config(text, str(file)))


def _env_overrides(s: Settings) -> Settings:
    """``$ARBTUI_METRICS_PORT`` (an integer, 0 = off) replaces ``metrics.port``."""
    port = os.environ.get("ARBTUI_METRICS_PORT")
    if port is None or port == "":
        return s
    if not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"$ARBTUI_METRICS_PORT: {port!r} is not a port number (0 = off)")
    metrics = msgspec.structs.replace(s.metrics, port=int(port))
    return msgspec.structs.replace(s, metrics=metrics)


def parse_config(text: str, name: str = "<config>") -> Settings:
    """Parse TOML text into :class:`Settings`; ``name`` is used in error messages."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from None
    return settings_from_dict(raw, name)


def settings_from_dict(raw: dict[str, object], name: str = "<config>") -> Settings:
    """Check a config already parsed into plain values (as ``tomllib`` gives them) with the
    same rules as :func:`parse_config`. Raises :class:`ConfigError` naming ``name`` and the key."""
    try:
        _check_capital(raw, name)
        settings = msgspec.convert(raw, Settings, str_keys=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{name}: {_unknown_key(str(exc), raw) or _keyed(str(exc))}") from None
    _check(settings, name)
    return msgspec.structs.replace(settings, source=name)


def _check_capital(raw: dict[str, object], name: str) -> None:
    """``[capital.VENUE] CURRENCY = amount``: a table of tables of numbers (msgspec's own
    error would not name the key of a dict)."""
    cap = raw.get("capital", {})
    if not isinstance(cap, dict):
        raise ConfigError(f"{name}: capital: expected [capital.VENUE] tables")
    for venue, by_currency in cap.items():
        if not isinstance(by_currency, dict):
            raise ConfigError(f"{name}: capital.{venue}: expected a table of CURRENCY = amount")
        for currency, amount in by_currency.items():
            try:
                msgspec.convert(amount, Decimal)
            except msgspec.ValidationError:
                raise ConfigError(
                    f"{name}: capital.{venue}.{currency}: expected a number, got {amount!r}"
                ) from None


_UNKNOWN = re.compile(
    r"^Object contains unknown field `(?P<key>[^`]*)`(?: - at `\$(?P<path>.*)`)?$"
)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_Step = str | int
"""A step of a path into the config: a table's key, or an array's index."""


def _unknown_key(msg: str, raw: object) -> str | None:
    """msgspec's ``Object contains unknown field `k` - at `$.strategy``` as ``[strategy]
    unknown key 'k' (did you mean 'key'?)``: the section, the key, and the closest valid key
    of that section (:mod:`difflib`); None for any other error. ``raw``, the parsed file,
    names the table msgspec leaves as ``[...]`` (a key of ``[instruments]``)."""
    m = _UNKNOWN.match(msg)
    if m is None:
        return None
    key = m["key"]
    t: msgspec.inspect.Type = msgspec.inspect.type_info(Settings)
    steps: list[_Step] = []
    for name, index in _STEP.findall(m["path"] or ""):
        t = _container(t)
        if isinstance(t, msgspec.inspect.StructType) and name:
            t = next((f.type for f in t.fields if f.encode_name == name), t)
            steps.append(name)
        elif isinstance(t, msgspec.inspect.ListType | msgspec.inspect.VarTupleType) and index:
            t = t.item_type
            steps.append(int(index) if index.isdigit() else 0)
        elif isinstance(t, msgspec.inspect.DictType):
            t = t.value_type
            steps.append(name or _table_holding(raw, steps, key, _fields(t)))
        else:
            return None
        raw = _at(raw, steps[-1])
    valid = _fields(t)
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{_section(steps)} unknown key {key!r}{hint}"


def _at(raw: object, step: _Step) -> object:
    if isinstance(step, int):
        return raw[step] if isinstance(raw, list) and step < len(raw) else None
    return raw.get(step) if isinstance(raw, dict) else None


def _table_holding(raw: object, steps: list[_Step], key: str, valid: list[str]) -> str:
    """The name of the table of ``raw`` (a table of tables) that holds the unknown ``key``."""
    if isinstance(raw, dict):
        for name, table in raw.items():
            if isinstance(table, dict) and key in table and key not in valid:
                return str(name)
    return "..."


def _section(steps: list[_Step]) -> str:
    """The TOML section of a path: ``[strategy]``, ``[[pairs]] #2``,
    ``[instruments.binance_btcusdt]``; the file's top level outside any section."""
    if not steps:
        return "top level (outside any [section])"
    if len(steps) == 2 and isinstance(steps[1], int):
        return f"[[{steps[0]}]] #{steps[1] + 1}"
    return "[" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps)[1:] + "]"


def _fields(t: msgspec.inspect.Type) -> list[str]:
    """The keys a struct type accepts ([] if ``t`` is not a struct)."""
    t = _container(t)
    return [f.encode_name for f in t.fields] if isinstance(t, msgspec.inspect.StructType) else []


def _container(t: msgspec.inspect.Type) -> msgspec.inspect.Type:
    """The struct, dict or list inside an optional or union type (else ``t`` itself)."""
    if isinstance(t, msgspec.inspect.UnionType):
        for u in t.types:
            if isinstance(
                u,
                msgspec.inspect.StructType
                | msgspec.inspect.DictType
                | msgspec.inspect.ListType
                | msgspec.inspect.VarTupleType,
            ):
                return u
    return t


def _keyed(msg: str) -> str:
    """Turn msgspec's ``... - at `$.a.b[0]``` into ``a.b[0]: ...``."""
    text, sep, where = msg.rpartition(" - at `$")
    if not sep:
        return msg
    key = where.rstrip("`").lstrip(".")
    return f"{key}: {text}" if key else text


MIN_FEE = Decimal("-0.001")
"""The lowest fee fraction a config may give (a maker rebate of 0.1 %)."""
MAX_FEE = Decimal("0.01")
"""The highest (1 %: far above any venue's taker fee; ``5`` or ``0.05`` is a typo)."""


def _check(s: Settings, name: str) -> None:
    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"{name}: {key}: {why}")

    for iid, spec in s.instruments.items():
        for fld in ("contract_size", "tick", "lot"):
            if getattr(spec, fld) <= 0:
                raise bad(f"instruments.{iid}.{fld}", "must be > 0")
        for fld in ("maker_fee", "taker_fee"):  # fractions: 0.0005 = 0.05 %
            fee = getattr(spec, fld)
            if not MIN_FEE <= fee <= MAX_FEE:
                raise bad(
                    f"instruments.{iid}.{fld}",
                    f"{fee} is not a fee fraction between {MIN_FEE} and {MAX_FEE} "
                    "(0.0005 = 0.05 %; a rebate is negative)",
                )
    if not s.pairs:
        raise bad("pairs", "at least one [[pairs]] entry is needed")
    inverse = any(spec.kind == "inverse" for spec in s.instruments.values())
    for venue, by_currency in s.capital.items():
        for currency, amount in by_currency.items():
            if amount < 0:
                raise bad(f"capital.{venue}.{currency}", "must be >= 0")
            if is_coin(currency) and amount != 0 and not inverse:
                raise bad(
                    f"capital.{venue}.{currency}",
                    "a coin balance is valued at an inverse instrument's mark: configure one",
                )
    for i, pair in enumerate(s.pairs):
        for leg in ("leg_a", "leg_b"):
            if getattr(pair, leg) not in s.instruments:
                raise bad(f"pairs[{i}].{leg}", f"no instrument {getattr(pair, leg)!r}")
        if s.instruments[pair.leg_a].venue == s.instruments[pair.leg_b].venue:
            raise bad(f"pairs[{i}]", "the two legs must be on different venues")
    owner: dict[str, str] = {}
    names: set[str] = set()
    for i, pair in enumerate(s.pairs):
        if pair.name in names:
            raise bad(f"pairs[{i}].name", f"{pair.name!r} names two pairs")
        names.add(pair.name)
        for leg in ("leg_a", "leg_b"):
            iid = getattr(pair, leg)
            if iid in owner:
                raise bad(
                    f"pairs[{i}].{leg}",
                    f"instrument {iid!r} already belongs to pair {owner[iid]!r}: an instrument "
                    "may belong to one pair only (its position, hedge and ladder are the pair's)",
                )
            owner[iid] = pair.name
    lad = s.ladder
    if len(lad.deltas_pct) != len(lad.multipliers) or not lad.deltas_pct:
        raise bad("ladder", "deltas_pct and multipliers must be non-empty and of equal length")
    if lad.deltas_pct[0] != 0 or list(lad.deltas_pct) != sorted(set(lad.deltas_pct)):
        raise bad("ladder.deltas_pct", "must start at 0 and increase strictly")
    if any(m <= 0 for m in lad.multipliers):
        raise bad("ladder.multipliers", "must be > 0")
    st = s.strategy
    if st.observations < 1:
        raise bad("strategy.observations", "must be >= 1")
    if st.exit_observations < 1:
        raise bad("strategy.exit_observations", "must be >= 1")
    if st.min_hold_hours < 0:
        raise bad("strategy.min_hold_hours", "must be >= 0")
    entry_apr = st.entry_edge_pct / st.holding_hours * 24 * 365 if st.holding_hours > 0 else 0
    if st.holding_hours > 0 and st.exit_apr_pct >= entry_apr:
        raise bad(
            "strategy.exit_apr_pct",
            f"must be below the entry threshold ({st.entry_edge_pct:g} % over "
            f"{st.holding_hours:g} h = {entry_apr:.2f} % APR)",
        )
    _check_pair_bands(s, bad)
    hg = s.hedge
    if hg.band_btc <= 0:
        raise bad("hedge.band_btc", "must be > 0")
    if not 0 <= hg.target_btc < hg.band_btc:
        raise bad("hedge.target_btc", "must be >= 0 and below hedge.band_btc")
    if hg.wide_band_btc is not None and hg.wide_band_btc < hg.band_btc:
        raise bad("hedge.wide_band_btc", "must be >= hedge.band_btc")
    if hg.min_interval_s < 0:
        raise bad("hedge.min_interval_s", "must be >= 0 (0 = no wait)")
    if hg.fresh_price_s < 0:
        raise bad("hedge.fresh_price_s", "must be >= 0")
    if not 1 <= st.ema_fast < st.ema_slow:
        raise bad("strategy.ema_fast", "must be >= 1 and below strategy.ema_slow")
    if st.holding_hours <= 0:
        raise bad("strategy.holding_hours", "must be > 0")
    if not 0 < s.risk.drawdown_limit_pct < 100:
        raise bad("risk.drawdown_limit_pct", "must be between 0 and 100")
    if s.risk.max_book_notional_usd < 0:
        raise bad("risk.max_book_notional_usd", "must be >= 0 (USD; 0 = off)")
    if not 0 <= s.risk.max_venue_margin_pct <= 100:
        raise bad("risk.max_venue_margin_pct", "must be 0 (off) .. 100 (% of a venue's equity)")
    if not 1 <= s.risk.venue_leverage <= 200:
        raise bad("risk.venue_leverage", "must be 1 .. 200 (x; initial margin = notional / it)")
    if s.replay.speed < 0:
        raise bad("replay.speed", "must be >= 0 (0 = as fast as possible)")
    if not 0 < s.sizing.min_scale <= 1:
        raise bad("sizing.min_scale", "must be in (0, 1]")
    if not 0 <= s.metrics.port <= 65535:
        raise bad("metrics.port", "must be 0 (off) .. 65535")
    if s.audit.batch_ms < 1 or s.audit.batch_rows < 1:
        raise bad("audit.batch_ms" if s.audit.batch_ms < 1 else "audit.batch_rows", "must be >= 1")
    if s.audit.write_ahead_timeout_s <= 0:
        raise bad("audit.write_ahead_timeout_s", "must be > 0")
    if s.logs.max_bytes < 1024 or s.logs.backups < 1:
        raise bad("logs.max_bytes" if s.logs.max_bytes < 1024 else "logs.backups", "too small")
    f = s.feeds
    for key in ("stale_after_s", "bitmex_pong_timeout_s", "reconnect_base_s", "rest_timeout_s"):
        if getattr(f, key) <= 0:
            raise bad(f"feeds.{key}", "must be > 0")
    if f.reconnect_cap_s < f.reconnect_base_s:
        raise bad("feeds.reconnect_cap_s", "must be >= feeds.reconnect_base_s")
    if f.max_frame_bytes < 1024:
        raise bad("feeds.max_frame_bytes", "must be >= 1024")
    _check_execution(s, name)


def _check_pair_bands(s: Settings, bad: Callable[[str, str], ConfigError]) -> None:
    """Each pair's hedge band is in its base asset's units: ``[hedge] band_btc`` is BTC, so a
    pair of another asset must set its own ``hedge_band``."""
    for i, pair in enumerate(s.pairs):
        if pair.hedge_band is None:
            for key in ("hedge_target", "hedge_wide_band"):
                if getattr(pair, key) is not None:
                    raise bad(f"pairs[{i}].{key}", f"needs pairs[{i}].hedge_band (same units)")
            assets = {base_asset(s.instruments[iid]) for iid in (pair.leg_a, pair.leg_b)}
            if assets != {"BTC"}:
                raise bad(
                    f"pairs[{i}].hedge_band",
                    f"pair {pair.name!r} trades {'/'.join(sorted(assets))}, not BTC: set its "
                    "hedge band in that asset's units (hedge.band_btc is in BTC)",
                )
            continue
        band, target, wide = pair.band(s.hedge)
        if band <= 0:
            raise bad(f"pairs[{i}].hedge_band", "must be > 0 (base asset units)")
        if not 0 <= target < band:
            raise bad(f"pairs[{i}].hedge_target", "must be >= 0 and below its hedge_band")
        if wide < band:
            raise bad(f"pairs[{i}].hedge_wide_band", "must be >= its hedge_band")


def _check_execution(s: Settings, name: str) -> None:
    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"{name}: {key}: {why}")

    q, v = s.queue, s.venues
    if q.block_timeout_s <= 0:
        raise bad("queue.block_timeout_s", "must be > 0")
    if q.socket_timeout_s <= q.block_timeout_s:
        raise bad(
            "queue.socket_timeout_s",
            f"{q.socket_timeout_s} must be larger than queue.block_timeout_s "
            f"({q.block_timeout_s}), or a blocking move times out client-side (HAZARDS H15)",
        )
    if q.lease_s <= 0 or q.max_inflight < 1:
        raise bad("queue", "lease_s must be > 0 and max_inflight >= 1")
    if v.bybit.recv_window_ms >= v.request_timeout_ms + v.unknown_grace_ms:
        raise bad(
            "venues.bybit.recv_window_ms",
            "must be below request_timeout_ms + unknown_grace_ms (HAZARDS H9)",
        )
    if v.binance.recv_window_ms >= v.request_timeout_ms + v.unknown_grace_ms:
        raise bad(
            "venues.binance.recv_window_ms",
            "must be below request_timeout_ms + unknown_grace_ms, so that a lookup of an "
            "order whose answer was lost is final (HAZARDS H9)",
        )
