"""Config: frozen typed settings; bad files give a clear error naming the file and the key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.domain.config import DEFAULT_CONFIG, ConfigError, load_config, parse_config
from tests.conftest import DATA, HISTORY_CONFIG, ROOT

BAD = DATA / "config"


def test_the_shipped_config_pairs_binance_with_bybit_linear() -> None:
    s = load_config(ROOT / "config.toml")
    assert [(p.name, p.leg_a, p.leg_b) for p in s.pairs] == [
        ("BTC", "binance_btcusdt", "bybit_btcusdt")
    ]
    assert s.instruments["bybit_btcusd"].kind == "inverse"
    assert s.instruments["bybit_btcusd"].settle_currency == "BTC"
    assert str(s.instruments["binance_btcusdt"].lot) == "0.001"
    assert s.capital_by_key() == {
        ("binance", "USDT"): Decimal(100000),
        ("bybit", "USDT"): Decimal(100000),
    }
    assert s.ladder.deltas_pct[0] == 0


def test_the_shipped_inverse_and_history_configs_load() -> None:
    inverse = load_config(ROOT / "configs" / "binance_bybit_inverse.toml")
    assert [(p.leg_a, p.leg_b) for p in inverse.pairs] == [("binance_btcusdt", "bybit_btcusd")]
    assert inverse.capital_by_key()[("bybit", "BTC")] == Decimal("0.5")
    history = load_config(HISTORY_CONFIG)
    assert [(p.leg_a, p.leg_b) for p in history.pairs] == [("binance_btcusdt", "bitmex_xbtusd")]
    assert history.capital_by_key()[("bitmex", "XBT")] == Decimal("0.5")


def test_the_packaged_default_is_the_repository_config() -> None:
    assert DEFAULT_CONFIG.read_text() == (ROOT / "config.toml").read_text()


def test_settings_are_frozen() -> None:
    s = load_config(ROOT / "config.toml")
    with pytest.raises(AttributeError):
        s.risk.drawdown_limit_pct = 50  # type: ignore[misc]


def test_an_unknown_key_names_the_file_and_the_section() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(BAD / "extra_key.toml")
    assert str(err.value) == (
        f"{BAD / 'extra_key.toml'}: [strategy] unknown key 'entry_threshold'"
    )  # nothing of [strategy] is close enough to suggest


@pytest.mark.parametrize(
    ("before", "after", "message"),
    [
        ("entry_edge_pct =", "entry_edge_pc =",
         "[strategy] unknown key 'entry_edge_pc' (did you mean 'entry_edge_pct'?)"),
        ("[[pairs]]\n", "[[pairs]]\nleg_aa = 1\n",
         "[[pairs]] #1 unknown key 'leg_aa' (did you mean 'leg_a'?)"),
        ("[instruments.bybit_btcusd]\n", "[instruments.bybit_btcusd]\nlots = 1\n",
         "[instruments.bybit_btcusd] unknown key 'lots' (did you mean 'lot'?)"),
        ("[venues.bybit]\n", "[venues.bybit]\nenvv = 1\n",
         "[venues.bybit] unknown key 'envv' (did you mean 'env'?)"),
        ("[capital.binance]\n", "pairz = 1\n[capital.binance]\n",
         "top level (outside any [section]) unknown key 'pairz' (did you mean 'pairs'?)"),
        ("[risk]\n", "[risk]\nqqqqqqqq = 2\n", "[risk] unknown key 'qqqqqqqq'"),
    ],
)  # fmt: skip
def test_a_typo_names_the_key_the_section_the_file_and_the_closest_key(
    before: str, after: str, message: str
) -> None:
    text = (ROOT / "config.toml").read_text()
    assert before in text
    with pytest.raises(ConfigError) as err:
        parse_config(text.replace(before, after, 1), "config.toml")
    assert str(err.value) == f"config.toml: {message}"


def test_a_typo_in_the_config_file_exits_2_naming_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "config.toml"
    bad.write_text(
        (ROOT / "config.toml").read_text().replace("entry_edge_pct =", "entry_edge_pc =")
    )
    out = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--config", "config.toml", "--replay", "x.jsonl",
         "--headless"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "arbtui: config.toml: [strategy] unknown key 'entry_edge_pc'"
        " (did you mean 'entry_edge_pct'?)"
    )


def test_a_wrong_type_names_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        load_config(BAD / "wrong_type.toml")
    assert str(err.value) == (
        f"{BAD / 'wrong_type.toml'}: risk.drawdown_limit_pct: Expected `float`, got `str`"
    )


def test_not_toml_is_reported_with_the_file() -> None:
    with pytest.raises(ConfigError, match=r"not_toml\.toml: not valid TOML"):
        load_config(BAD / "not_toml.toml")


def test_a_missing_file_is_reported() -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.toml: config file not found"):
        load_config("nowhere.toml")


def test_arbtui_config_picks_another_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    alt = tmp_path / "alt.toml"
    alt.write_text(
        (ROOT / "config.toml")
        .read_text()
        .replace("drawdown_limit_pct = 10.0", "drawdown_limit_pct = 4.5")
    )
    monkeypatch.setenv("ARBTUI_CONFIG", str(alt))
    s = load_config()
    assert s.risk.drawdown_limit_pct == 4.5
    assert s.source == str(alt)


def test_pair_legs_must_exist_and_sit_on_two_venues() -> None:
    text = (ROOT / "config.toml").read_text()
    with pytest.raises(ConfigError, match=r"pairs\[0\]\.leg_b: no instrument 'nope'"):
        parse_config(text.replace('leg_b = "bybit_btcusdt"', 'leg_b = "nope"'), "c.toml")
    with pytest.raises(ConfigError, match=r"pairs\[0\]: the two legs must be on different venues"):
        parse_config(text.replace('leg_b = "bybit_btcusdt"', 'leg_b = "binance_btcusdt"'), "c.toml")


def test_ladder_lengths_must_match() -> None:
    text = (
        (ROOT / "config.toml")
        .read_text()
        .replace("multipliers = [1, 1, 1.5, 2, 2.5]", "multipliers = [1, 1]")
    )
    with pytest.raises(ConfigError, match=r"c\.toml: ladder: deltas_pct and multipliers"):
        parse_config(text, "c.toml")


def test_the_cli_prints_a_config_error_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    from tui.cli import main

    assert main(["--config", str(BAD / "wrong_type.toml"), "--replay", "x", "--headless"]) == 2
    assert "risk.drawdown_limit_pct: Expected `float`, got `str`" in capsys.readouterr().err


def test_capital_is_per_venue_and_currency_and_a_coin_needs_an_inverse_instrument() -> None:
    text = (ROOT / "config.toml").read_text()
    text = text.replace("[instruments.bybit_btcusd]", "[instruments.unused]").replace(
        'kind = "inverse"', 'kind = "linear"'
    )
    coin = text.replace("# BTC = 0.5", "BTC = 0.5")
    with pytest.raises(ConfigError, match=r"c\.toml: capital\.bybit\.BTC: a coin balance"):
        parse_config(coin, "c.toml")
    negative = text.replace("USDT = 100000              # USDT on Binance", "USDT = -1 #")
    with pytest.raises(ConfigError, match=r"capital\.binance\.USDT: must be >= 0"):
        parse_config(negative, "c.toml")
    with pytest.raises(ConfigError, match=r"capital\.binance\.USDT"):
        parse_config(text.replace("USDT = 100000              # USDT on Binance", 'USDT = "x" #'))


@pytest.mark.parametrize("fee", ["5", "0.05", "-0.01"])
def test_a_fee_that_is_not_a_fraction_a_venue_charges_is_refused_naming_it(fee: str) -> None:
    text = (
        (ROOT / "config.toml")
        .read_text()
        .replace('taker_fee = "0.0005"', f'taker_fee = "{fee}"', 1)
    )
    with pytest.raises(ConfigError) as err:
        parse_config(text, "my.toml")
    assert str(err.value) == (
        f"my.toml: instruments.binance_btcusdt.taker_fee: {fee} is not a fee fraction between "
        "-0.001 and 0.01 (0.0005 = 0.05 %; a rebate is negative)"
    )
