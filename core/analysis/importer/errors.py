"""Errors of the importer, and the policy for bad lines (raise, or skip and count)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.domain.errors import BadInput


class ImportDataError(BadInput, ValueError):
    """A problem in an input file, located as precisely as the file allows.

    ``str(err)`` reads ``funding.csv:17: field funding_rate: 'abc' is not a number``; JSON
    records add their 1-based position: ``x.json:4: record 2: field fundingRate: ...``.
    """

    file: str  # always named (ArbtuiError.file is optional)

    def __init__(
        self,
        file: str,
        line: int | None,
        reason: str,
        *,
        field: str | None = None,
        record: int | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        self.record = record
        self.reason = reason
        parts = [file if line is None else f"{file}:{line}"]
        if record is not None:
            parts.append(f"record {record}")
        if field is not None:
            parts.append(f"field {field}")
        parts.append(reason)
        super().__init__(": ".join(parts))


class FieldError(BadInput, ValueError):
    """A bad value in one field of a row; the row loop adds file and line."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"field {field}: {reason}")


@dataclass
class BadLines:
    """What to do with a bad line: raise (default) or, with ``skip_bad``, count it per file
    and keep its message. Nothing is dropped without being counted here."""

    skip_bad: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def handle(self, err: ImportDataError) -> None:
        """Raise ``err``, or record it when skipping bad lines."""
        if not self.skip_bad:
            raise err
        self.counts[err.file] = self.counts.get(err.file, 0) + 1
        self.messages.append(str(err))

    @property
    def total(self) -> int:
        """Lines skipped over all files."""
        return sum(self.counts.values())
