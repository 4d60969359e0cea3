"""--set and --grid on dotted config keys, and writing the best point back as a config file."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.analysis.backtest.optimize import plan
from core.analysis.backtest.overrides import (
    config_text,
    grid_point,
    parse_assignment,
    parse_grid,
    with_overrides,
    write_config,
)
from core.domain.config import ConfigError, Settings, load_config, parse_config
from tests.conftest import HISTORY_CONFIG


def test_a_dotted_key_overrides_one_field_and_keeps_the_rest(settings: Settings) -> None:
    s = with_overrides(settings, dict([parse_assignment("strategy.entry_edge_pct=0.8")]))
    assert s.strategy.entry_edge_pct == 0.8
    assert s.strategy.exit_apr_pct == settings.strategy.exit_apr_pct
    assert s.ladder == settings.ladder
    assert "strategy.entry_edge_pct=0.8" in s.source


def test_indexed_keys_reach_into_pairs_and_tuples(settings: Settings) -> None:
    s = with_overrides(settings, {"pairs[0].max_notional_usd": 40000, "ladder.deltas_pct.1": 2.5})
    assert s.pairs[0].max_notional_usd == Decimal(40000)
    assert s.ladder.deltas_pct == (0.0, 2.5, 6.0, 10.0, 15.0)


def test_a_float_for_a_decimal_field_becomes_its_exact_decimal(settings: Settings) -> None:
    s = with_overrides(settings, dict([parse_assignment("hedge.band_btc=0.05")]))
    assert s.hedge.band_btc == Decimal("0.05")


def test_an_unknown_key_is_an_error_naming_it_and_the_keys_there(settings: Settings) -> None:
    with pytest.raises(
        ConfigError, match=r"strategy\.entry_edge: unknown config key.*entry_edge_pct"
    ):
        with_overrides(settings, {"strategy.entry_edge": 1})


def test_a_value_of_the_wrong_type_is_an_error_naming_the_key(settings: Settings) -> None:
    with pytest.raises(ConfigError, match=r"strategy\.entry_edge_pct: Expected `float`, got `str`"):
        with_overrides(settings, dict([parse_assignment("strategy.entry_edge_pct=abc")]))


def test_overrides_go_through_the_config_checks(settings: Settings) -> None:
    with pytest.raises(ConfigError, match=r"strategy\.ema_fast: must be >= 1 and below"):
        with_overrides(settings, {"strategy.ema_fast": 20})


def test_an_assignment_without_a_value_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"--set 'strategy\.entry_edge_pct=': expected KEY=VALUE"):
        parse_assignment("strategy.entry_edge_pct=")


def test_a_range_includes_both_ends_in_exact_decimal_steps(settings: Settings) -> None:
    assert parse_grid("strategy.entry_edge_pct=0.4:1.0:0.2", settings) == (
        "strategy.entry_edge_pct",
        [0.4, 0.6, 0.8, 1.0],
    )


def test_grid_values_take_the_type_of_the_key(settings: Settings) -> None:
    assert parse_grid("strategy.observations=1:3:1", settings)[1] == [1, 2, 3]
    assert parse_grid("hedge.band_btc=0.05:0.15:0.05", settings)[1] == ["0.05", "0.10", "0.15"]
    assert parse_grid("strategy.observations=2,4", settings)[1] == [2, 4]


def test_a_fractional_step_on_an_integer_key_is_refused(settings: Settings) -> None:
    with pytest.raises(ConfigError, match=r"an integer key, 1\.5 is not a whole number"):
        parse_grid("strategy.observations=1:2:0.5", settings)


def test_a_grid_on_a_non_numeric_key_is_refused(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="not a numeric key"):
        parse_grid("risk.start_state=1:2:1", settings)


def test_grid_points_vary_the_last_key_fastest() -> None:
    grid = [("a", [1, 2]), ("b", [10, 20, 30])]
    assert [grid_point(grid, i) for i in (0, 1, 3, 5)] == [
        {"a": 1, "b": 10},
        {"a": 1, "b": 20},
        {"a": 2, "b": 10},
        {"a": 2, "b": 30},
    ]


def test_random_points_are_distinct_seeded_and_from_the_grid() -> None:
    grid = [("a", list(range(10))), ("b", list(range(10)))]
    first = plan(grid, 7, seed=3)
    assert first == plan(grid, 7, seed=3)
    assert len({(p["a"], p["b"]) for p in first}) == 7
    assert plan(grid, 500) == plan(grid)  # more than the grid: the whole grid


def test_the_written_config_keeps_comments_notes_old_values_and_loads_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARBTUI_METRICS_PORT", raising=False)
    settings = load_config(HISTORY_CONFIG)  # as read from the file, nothing changed
    text = config_text(settings, {"strategy.entry_edge_pct": 0.8, "hedge.band_btc": "0.05"})
    assert "entry_edge_pct = 0.8 # arbtui optimize: was 0.6" in text
    assert 'band_btc = "0.05" # arbtui optimize: was 0.2' in text
    assert "# arbtui settings for BitMEX history: the March 2020 replay" in text
    path = write_config(tmp_path / "best.toml", settings, {"strategy.observations": 2})
    back = load_config(path)
    assert back.strategy.observations == 2
    assert back.strategy.entry_edge_pct == settings.strategy.entry_edge_pct
    assert back.instruments == settings.instruments
    assert text.count("# arbtui optimize: was") == 2


def test_an_environment_override_is_written_with_a_note(settings: Settings) -> None:
    # the suite sets ARBTUI_METRICS_PORT=0 (tests/conftest.py): the run's port is 0
    assert settings.metrics.port == 0
    text = config_text(settings, {"strategy.observations": 2})
    assert "# the run's setting: was 9464" in text
    assert parse_config(text).metrics.port == 0


def test_settings_that_differ_from_their_file_are_written_whole(settings: Settings) -> None:
    changed = with_overrides(settings, {"sizing.min_scale": 0.5})  # no longer the file's
    text = config_text(changed, {"strategy.observations": 2})
    assert text.startswith("# arbtui config written from ")  # no file to start from
    back = parse_config(text)
    assert back.sizing.min_scale == 0.5
    assert back.strategy == with_overrides(changed, {"strategy.observations": 2}).strategy
