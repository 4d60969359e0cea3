"""``arbtui --replay FILE --speed X``: a speed that is negative or not a finite number is
refused with the flag named (exit 2), never run silently at the default; and an option the
chosen run would ignore (``--record`` on a replay, ``--report`` in the console, ...) is refused
naming it (exit 2), nothing run."""

from __future__ import annotations

import pytest

from tui.cli import main

BAD = [["--speed", "-3"], ["--speed=-3"], ["--speed", "nan"], ["--speed", "inf"], ["--speed=-inf"],
       ["--speed", "x"]]  # fmt: skip


@pytest.mark.parametrize("given", BAD)
def test_a_speed_below_zero_or_not_finite_is_refused_naming_the_flag(
    given: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--replay", "no-such-file.jsonl", *given])
    assert done.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    value = given[-1].removeprefix("--speed=")
    assert err == (
        f"arbtui: error: argument --speed: {value!r} is not a replay speed: sim seconds per"
        " wall second, a finite number >= 0 (0 = as fast as possible)"
    )


def test_zero_and_positive_speeds_are_taken() -> None:
    from tui.commands.run import speed

    assert speed("0") == 0.0  # documented: as fast as possible
    assert speed("2.5") == 2.5


SHIPPED = "replays/btc_binance_bybit_2024-03.jsonl.gz"
IGNORED = [
    (["--replay", SHIPPED, "--headless", "--record", "x.jsonl"],
     "--record applies to --paper and --live (a replay is already a recording)"),
    (["--replay", SHIPPED, "--headless", "--duration", "5"],
     "--duration applies to --paper or --live with --headless"),
    (["--paper", "--duration", "5"], "--duration applies to --paper or --live with --headless"),
    (["--replay", SHIPPED, "--yes"], "--yes applies to --live only"),
    (["--replay", SHIPPED, "--report", "json"], "--report applies to --replay FILE --headless"),
    (["--paper", "--headless", "--report", "json"],
     "--report applies to --replay FILE --headless"),
    (["--replay", SHIPPED, "--headless", "--speed", "2"],
     "--speed applies to a replay in the console (not --headless, --paper or --live)"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "why"), IGNORED)
def test_an_option_the_run_would_ignore_is_refused_naming_it(
    argv: list[str], why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == f"arbtui: {why}; nothing was run"


def test_two_ignored_options_are_both_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--replay", SHIPPED, "--yes", "--record", "x.jsonl"]) == 2
    assert capsys.readouterr().err.strip() == (
        "arbtui: --record applies to --paper and --live (a replay is already a recording); "
        "--yes applies to --live only; nothing was run"
    )


def test_the_live_question_names_where_orders_go(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import msgspec

    from core.domain.config import load_config
    from tests.conftest import ROOT
    from tui.commands.run import confirm_live

    s = load_config(ROOT / "config.toml")
    binance = msgspec.structs.replace(s.venues.binance, rest_url="http://127.0.0.1:9")
    s = msgspec.structs.replace(s, venues=msgspec.structs.replace(s.venues, binance=binance))
    answers = iter(["yes", "no"])
    monkeypatch.setattr("builtins.input", lambda: next(answers))
    assert confirm_live(s) is True
    assert confirm_live(s) is False
    asked = capsys.readouterr().err
    env_b, env_y = s.venues.binance.env, s.venues.bybit.env
    assert asked.startswith(
        f"arbtui --live: orders will go to binance ({env_b}, http://127.0.0.1:9), "
        f"bybit ({env_y}). The engine starts DISARMED"
    )
