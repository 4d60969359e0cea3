"""Dotted config keys on the command line: ``--set key=value`` and ``--grid key=spec``.

A key names one field of ``config.toml``: ``strategy.entry_edge_pct``, ``sizing.base_notional_usd``,
``instruments.binance_btcusdt.taker_fee``, ``pairs[0].max_notional_usd`` (or ``pairs.0.``),
``ladder.deltas_pct[1]``. A value is read as a TOML value (``0.8``, ``true``, ``[0, 3, 6]``,
``"0.05"``), else as a bare string (``risk.start_state=ARMED``). Overridden settings go through
the same checks as the file (:func:`core.domain.config.settings_from_dict`), so a bad key or value
is a
:class:`~core.domain.config.ConfigError` that names it.

A grid is ``key=start:stop:step`` (both ends included, stepped in exact decimal arithmetic) or
``key=v1,v2,...``; values take the key's type (int, float, or an exact decimal string for
Decimal fields).
"""

from __future__ import annotations

import copy
import itertools
import re
import tomllib
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import msgspec
import tomlkit

from core.domain.config import ConfigError, Settings, parse_config, settings_from_dict

Path_ = list[str | int]

_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)((?:\[\d+\])*)$")

#: A grid of this many points or more is refused (use --random N to sample it).
MAX_GRID_POINTS = 1_000_000


def split_key(key: str) -> Path_:
    """``"pairs[0].max_notional_usd"`` -> ``["pairs", 0, "max_notional_usd"]``.

    Raises :class:`ConfigError` for an empty or malformed key."""
    if not key or key.strip() != key:
        raise ConfigError(f"config key {key!r}: empty or padded with spaces", key=key)
    out: Path_ = []
    for part in key.split("."):
        if part.isdigit():
            out.append(int(part))
            continue
        m = _SEGMENT.match(part)
        if not m:
            raise ConfigError(f"config key {key!r}: bad segment {part!r}", key=key)
        out.append(m.group(1))
        out.extend(int(i) for i in re.findall(r"\[(\d+)\]", m.group(2)))
    return out


def current_value(settings: Settings, key: str) -> Any:
    """The value of dotted ``key`` in ``settings``; :class:`ConfigError` if there is none."""
    node: Any = settings
    where = ""
    for seg in split_key(key):
        if isinstance(seg, int):
            if not isinstance(node, tuple | list) or seg >= len(node):
                raise ConfigError(
                    f"{key}: unknown config key ({where or 'top level'} has no [{seg}])", key=key
                )
            node = node[seg]
            where = f"{where}[{seg}]"
            continue
        if isinstance(node, msgspec.Struct):
            fields = [f for f in type(node).__struct_fields__ if f != "source"]
            if seg not in fields:
                raise ConfigError(
                    f"{key}: unknown config key (no {seg!r} in [{where or 'top level'}]; "
                    f"keys: {', '.join(fields)})",
                    key=key,
                )
            node = getattr(node, seg)
        elif isinstance(node, dict):
            if seg not in node:
                raise ConfigError(
                    f"{key}: unknown config key (no {seg!r} in [{where}]; keys: {', '.join(node)})",
                    key=key,
                )
            node = node[seg]
        else:
            raise ConfigError(
                f"{key}: unknown config key ({where} is a value, not a table)", key=key
            )
        where = f"{where}.{seg}" if where else seg
    return node


def parse_value(text: str) -> Any:
    """A command-line value as TOML (``0.8``, ``true``, ``[1, 2]``, ``"x"``), else the text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignment(text: str, option: str = "--set") -> tuple[str, Any]:
    """``"strategy.entry_edge_pct=0.8"`` -> ``("strategy.entry_edge_pct", 0.8)``."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise ConfigError(
            f"{option} {text!r}: expected KEY=VALUE, e.g. strategy.entry_edge_pct=0.8"
        )
    return key.strip(), parse_value(value.strip())


def coerce(settings: Settings, key: str, value: Any) -> Any:
    """``value`` made fit for ``key``'s field: a float for a Decimal field becomes its exact
    decimal string; anything else is left to the config checks."""
    cur = current_value(settings, key)
    if isinstance(cur, Decimal) and isinstance(value, float):
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def base_raw(settings: Settings) -> dict[str, Any]:
    """``settings`` as plain TOML-like values (Decimals as strings), ready to override. An
    unset optional key (None, e.g. a pair's ``hedge_band``) is left out: TOML has no null."""
    raw: dict[str, Any] = _drop_none(msgspec.json.decode(msgspec.json.encode(settings)))
    raw.pop("source", None)
    return raw


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _set(raw: Any, path: Path_, value: Any, key: str) -> None:
    node = raw
    for seg, nxt in itertools.pairwise(path):
        if isinstance(seg, int):
            node = node[seg]
        else:
            if seg not in node:
                node[seg] = [] if isinstance(nxt, int) else {}
            node = node[seg]
    last = path[-1]
    if isinstance(last, int) and not isinstance(node, list):
        raise ConfigError(f"{key}: not a list", key=key)
    node[last] = value


def with_overrides(
    settings: Settings, overrides: Mapping[str, Any], raw: dict[str, Any] | None = None
) -> Settings:
    """``settings`` with ``overrides`` (dotted key -> value) applied and checked.

    ``raw`` is :func:`base_raw` of ``settings`` when already at hand (saves work in loops).
    Raises :class:`ConfigError` naming the key on an unknown key or a bad value."""
    if not overrides:
        return settings
    doc = copy.deepcopy(raw if raw is not None else base_raw(settings))
    for key, value in overrides.items():
        _set(doc, split_key(key), coerce(settings, key, value), key)
    label = ", ".join(f"{k}={_show(v)}" for k, v in overrides.items())
    return settings_from_dict(doc, f"{settings.source or '<config>'} with {label}")


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


# --------------------------------------------------------------------------- grids
def parse_grid(text: str, settings: Settings, option: str = "--grid") -> tuple[str, list[Any]]:
    """``"key=start:stop:step"`` or ``"key=a,b,c"`` -> (key, values in the key's type).

    Ranges include both ends and are stepped in exact decimal arithmetic (0.4:0.8:0.2 gives
    0.4, 0.6, 0.8). Raises :class:`ConfigError` naming the option and key."""
    key, sep, spec = text.partition("=")
    key, spec = key.strip(), spec.strip()
    if not sep or not key or not spec:
        raise ConfigError(f"{option} {text!r}: expected KEY=START:STOP:STEP or KEY=V1,V2,...")
    cur = current_value(settings, key)
    if ":" in spec:
        if isinstance(cur, bool) or not isinstance(cur, int | float | Decimal):
            raise ConfigError(f"{option} {key}: not a numeric key (it holds {cur!r})", key=key)
        parts = spec.split(":")
        if len(parts) != 3:
            raise ConfigError(f"{option} {key}={spec}: expected START:STOP:STEP", key=key)
        try:
            start, stop, step = (Decimal(p.strip()) for p in parts)
        except InvalidOperation:
            raise ConfigError(
                f"{option} {key}={spec}: START, STOP and STEP must be numbers", key=key
            ) from None
        if step <= 0 or stop < start:
            raise ConfigError(f"{option} {key}={spec}: needs STEP > 0 and STOP >= START", key=key)
        count = int((stop - start) / step) + 1
        if count > MAX_GRID_POINTS:
            raise ConfigError(f"{option} {key}={spec}: {count} values is too many", key=key)
        decimals = [start + i * step for i in range(count)]
        values = [_typed(cur, d, key, option) for d in decimals]
    else:
        values = [coerce(settings, key, parse_value(v.strip())) for v in spec.split(",")]
        if isinstance(cur, int) and not isinstance(cur, bool):
            values = [_typed(cur, Decimal(str(v)), key, option) for v in values]
    if len(set(map(str, values))) != len(values):
        raise ConfigError(f"{option} {key}={spec}: repeated values", key=key)
    return key, values


def _typed(cur: Any, d: Decimal, key: str, option: str) -> Any:
    if isinstance(cur, int) and not isinstance(cur, bool):
        if d != d.to_integral_value():
            raise ConfigError(f"{option} {key}: an integer key, {d} is not a whole number", key=key)
        return int(d)
    if isinstance(cur, Decimal):
        return str(d.normalize()) if d == d.to_integral_value() else str(d)
    return float(d)


def grid_size(grid: Sequence[tuple[str, Sequence[Any]]]) -> int:
    """Number of points in the cartesian product of ``grid``."""
    n = 1
    for _, values in grid:
        n *= len(values)
    return n


def grid_point(grid: Sequence[tuple[str, Sequence[Any]]], index: int) -> dict[str, Any]:
    """The ``index``-th point of the product (the last key varies fastest)."""
    point: dict[str, Any] = {}
    for key, values in reversed(grid):
        index, i = divmod(index, len(values))
        point[key] = values[i]
    return dict(reversed(list(point.items())))


# --------------------------------------------------------------------- writing back
def config_text(
    settings: Settings, overrides: Mapping[str, Any], note: str = "arbtui optimize"
) -> str:
    """The full config text of ``settings`` with ``overrides`` applied.

    Starts from the file ``settings`` were read from (so the operator's comments and layout
    survive; keys the settings hold differently from the file, such as environment overrides,
    are written too), else from the settings themselves. A changed line's comment says
    ``NOTE: was OLD``. The result is checked to load back to the overridden settings."""
    want = with_overrides(settings, overrides)
    doc: tomlkit.TOMLDocument | None = None
    extra: dict[str, Any] = {}
    source = Path(settings.source) if settings.source else None
    if source is not None and source.is_file():
        text = source.read_text(encoding="utf-8")
        try:
            in_file = parse_config(text, str(source))
        except ConfigError:
            in_file = None
        if in_file is not None:
            doc = tomlkit.parse(text)
            # keys the run's settings hold differently from the file (environment overrides)
            extra = _diff(base_raw(in_file), base_raw(settings))
    if doc is None:
        doc = tomlkit.document()
        doc.add(tomlkit.comment(f"arbtui config written from {settings.source or 'settings'}"))
        for k, v in base_raw(settings).items():
            doc[k] = v
    for key, value in extra.items():
        if key not in overrides:
            _set_toml(doc, split_key(key), value, "the run's setting")
    for key, value in overrides.items():
        _set_toml(doc, split_key(key), coerce(settings, key, value), note)
    out = tomlkit.dumps(doc)
    back = parse_config(out, "<written config>")
    if msgspec.structs.replace(back, source="") != msgspec.structs.replace(want, source=""):
        raise ConfigError("internal: the written config does not read back to the same settings")
    return out


def _diff(old: Any, new: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys whose values differ between two :func:`base_raw` trees (lists are leaves)."""
    if isinstance(old, dict) and isinstance(new, dict) and set(old) == set(new):
        out: dict[str, Any] = {}
        for k in old:
            out.update(_diff(old[k], new[k], f"{prefix}.{k}" if prefix else k))
        return out
    return {} if old == new else {prefix: new}


def _set_toml(doc: Any, path: Path_, value: Any, note: str) -> None:
    node = doc
    for seg in path[:-1]:
        if isinstance(seg, str) and seg not in node:
            node[seg] = tomlkit.table()
        node = node[seg]
    last = path[-1]
    old = node[last] if (isinstance(last, int) or last in node) else None
    if isinstance(old, str) and not isinstance(value, str):
        value = str(value)  # keep quoted money values quoted
    item = tomlkit.item(value)
    if isinstance(last, str) and old is not None:
        item.comment(f"{note}: was {_plain(old)}")
    node[last] = item


def _plain(value: Any) -> str:
    unwrap = getattr(value, "unwrap", None)
    return str(unwrap() if unwrap else value)


def write_config(
    path: str | Path,
    settings: Settings,
    overrides: Mapping[str, Any],
    note: str = "arbtui optimize",
) -> Path:
    """Write :func:`config_text` to ``path`` (parents created); returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(config_text(settings, overrides, note), encoding="utf-8")
    return p
