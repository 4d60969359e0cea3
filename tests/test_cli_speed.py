"""``arbtui --replay FILE --speed X``: a speed that is negative or not a finite number is
refused with the flag named (exit 2), never run silently at the default."""

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
