"""One error base: every error the project raises derives from ArbtuiError, carries its exit
code, and the command line turns it into one line on stderr."""

from __future__ import annotations

import importlib

import pytest

from core.domain.errors import ArbtuiError, BadInput
from tests.conftest import SHIPPED_REPLAY
from tui.cli import main

#: (module, class, exit code)
ERRORS = [
    ("core.domain.config", "ConfigError", 2),
    ("core.analysis.replay", "ReplayError", 2),
    ("core.analysis.importer.errors", "ImportDataError", 2),
    ("core.analysis.importer.errors", "FieldError", 2),
    ("core.observe.audit.store", "AuditStoreError", 2),
    ("core.observe.audit.export", "ExportError", 2),
    ("core.execution.redis_queue", "QueueConfigError", 2),
    ("core.observe.audit.writer", "AuditWriteError", 1),
    ("core.venues.ccxt_base", "VenueStartError", 1),
    ("core.venues.ccxt_base", "VenueError", 1),
    ("core.domain.venue", "PositionUnknown", 1),
    ("core.execution.limits", "RateLimited", 1),
    ("core.analysis.backtest.plots", "PlotUnavailable", 1),
    ("core.analysis.backtest.frames", "BtUnavailable", 1),
]


@pytest.mark.parametrize(("module", "name", "code"), ERRORS)
def test_each_error_class_derives_from_the_base_with_its_exit_code(
    module: str, name: str, code: int
) -> None:
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, ArbtuiError)
    assert cls.exit_code == code


def test_the_base_carries_what_it_names_and_keeps_a_subclass_own_fields() -> None:
    err = BadInput("risk.x: bad", key="risk.x")
    assert (err.exit_code, err.key, err.file, err.line) == (2, "risk.x", None, None)
    assert ArbtuiError("boom", exit_code=3).exit_code == 3
    from core.analysis.importer.errors import ImportDataError

    located = ImportDataError("f.csv", 17, "not a number", field="rate")
    assert (located.file, located.line, located.exit_code) == ("f.csv", 17, 2)
    assert isinstance(located, ValueError)  # callers that catch ValueError still do
    assert str(located) == "f.csv:17: field rate: not a number"


def test_the_cli_prints_one_line_and_the_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--replay", "/nonexistent/replay.jsonl", "--headless"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("arbtui: /nonexistent/replay.jsonl: ")
    assert main(["audit", "verify", "--db", "/nonexistent/audit.sqlite"]) == 2
    assert capsys.readouterr().err == (
        "arbtui audit: /nonexistent/audit.sqlite: no audit database there\n"
    )


def test_a_run_option_given_to_a_command_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--headless", "backtest", str(SHIPPED_REPLAY)])
    assert exc.value.code == 2
    assert "--headless: an option of a run, not of 'arbtui backtest'" in capsys.readouterr().err
