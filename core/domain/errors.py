"""The one base class of arbtui's errors, and the exit codes the command line gives them.

Every error the project raises on purpose derives from :class:`ArbtuiError` (keeping its own
builtin base, such as ``ValueError``, where callers catch that). An error carries:

- ``exit_code``: 2 for bad input (config, replay or import file, arguments), 1 otherwise (a
  run or a venue failed); set on the class, or per error with ``exit_code=``;
- ``file``, ``line``, ``key``: what it names, when it names one (``None`` otherwise); the
  message itself already reads ``file:line: why`` or ``key: why``.

``arbtui`` (:mod:`tui.cli`) prints any :class:`ArbtuiError` as one line on stderr and exits
with its ``exit_code``.
"""

from __future__ import annotations

#: Exit code of bad input: a config key or value, a replay or import file, an argument.
EXIT_BAD_INPUT = 2
#: Exit code of a run that failed (a venue refused, the audit log could not be written...).
EXIT_FAILED = 1


class ArbtuiError(Exception):
    """Base of arbtui's errors: ``exit_code`` (2 bad input, 1 otherwise) and the ``file``,
    ``line`` and ``key`` the error names, if any.

    Keyword arguments override the class's values; attributes a subclass sets before calling
    ``super().__init__`` are kept unless given here.
    """

    exit_code: int = EXIT_FAILED
    file: str | None = None
    line: int | None = None
    key: str | None = None

    def __init__(
        self,
        *args: object,
        exit_code: int | None = None,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(*args)
        if exit_code is not None:
            self.exit_code = exit_code
        if file is not None:
            self.file = file
        if line is not None:
            self.line = line
        if key is not None:
            self.key = key


class BadInput(ArbtuiError):
    """Base of the errors in what the user gave: exit code 2."""

    exit_code = EXIT_BAD_INPUT
