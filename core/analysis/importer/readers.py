"""Reading input files into rows with line numbers, and checked field conversions.

A :class:`Row` is one data record: its physical line (1-based), its 1-based record number for
JSON lists, and its fields by name. CSV fields are strings; JSON numbers are kept as their
source text (``parse_float=str``) so that no float rounding happens before we decide how to
read them.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from core.analysis.importer.errors import FieldError, ImportDataError
from core.domain import timeutil

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")
_WS = re.compile(r"[ \t\n\r]*")


@dataclass(frozen=True)
class Row:
    """One data record of an input file."""

    line: int
    record: int | None
    values: Mapping[str, object]


def read_text(path: Path) -> str:
    """The file's text (UTF-8, BOM removed); ``.gz`` files are decompressed."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportDataError(path.name, None, f"not UTF-8 text: {exc}") from None


def is_json(text: str) -> bool:
    """True when the text is a JSON document (starts with ``[`` or ``{``)."""
    return text.lstrip()[:1] in ("[", "{")


def csv_header(text: str) -> tuple[list[str], int]:
    """The header of a CSV text (stripped column names) and its line number."""
    for line_no, line in enumerate(io.StringIO(text), start=1):
        if line.strip():
            return [c.strip() for c in next(csv.reader([line]))], line_no
    return [], 0


def csv_rows(text: str, name: str) -> Iterator[Row | ImportDataError]:
    """Data rows of a CSV text after its header; blank lines are ignored. A row whose field
    count differs from the header's is yielded as an error for the caller's policy."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    for cells in reader:
        if not cells or all(not c.strip() for c in cells):
            continue
        if header is None:
            header = [c.strip() for c in cells]
            continue
        if len(cells) != len(header):
            yield ImportDataError(
                name, reader.line_num, f"{len(cells)} fields where the header has {len(header)}"
            )
            continue
        yield Row(reader.line_num, None, dict(zip(header, cells, strict=True)))


def json_records(text: str, name: str) -> Iterator[tuple[int, int, object]]:
    """``(line, record, value)`` for each element of a top-level JSON list, with the line on
    which the element starts. Broken JSON raises :class:`ImportDataError` at its line."""
    decoder = json.JSONDecoder(parse_float=str, parse_int=str, parse_constant=str)
    pos = _skip_ws(text, 0)
    line = 1 + text.count("\n", 0, pos)
    if text[pos : pos + 1] != "[":
        raise ImportDataError(name, line, "expected a JSON list of records")
    pos = _skip_ws(text, pos + 1)
    if text[pos : pos + 1] == "]":
        return
    record = 0
    counted = 0
    while True:
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ImportDataError(name, exc.lineno, f"invalid JSON: {exc.msg}") from None
        record += 1
        yield line, record, value
        pos = _skip_ws(text, end)
        sep = text[pos : pos + 1]
        if sep == "]":
            return
        if sep != ",":
            line += text.count("\n", counted, pos)
            raise ImportDataError(name, line, "invalid JSON: expected ',' or ']' after a record")
        pos = _skip_ws(text, pos + 1)


def _skip_ws(text: str, pos: int) -> int:
    m = _WS.match(text, pos)
    return m.end() if m else pos


def text_of(row: Row, field: str, *, optional: bool = False) -> str | None:
    """The field's text, stripped; None when the field is absent/null/empty and ``optional``."""
    value = row.values.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if optional:
            return None
        raise FieldError(field, "is missing" if value is None else "is empty")
    if not isinstance(value, str):
        raise FieldError(field, f"{json.dumps(value)} is not a number or text")
    return value.strip()


def require(row: Row, field: str) -> str:
    """The field's text; a missing or empty field is an error."""
    text = text_of(row, field)
    assert text is not None
    return text


def to_decimal(field: str, text: str) -> Decimal:
    """A decimal number exactly as written (``'0.00031033'``)."""
    if not _NUMBER.match(text):
        raise FieldError(field, f"{text!r} is not a number")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise FieldError(field, f"{text!r} is not a number") from None


def to_float(field: str, text: str) -> float:
    """A finite float (no ``nan``, ``inf``, ``1_000``)."""
    if not _NUMBER.match(text):
        raise FieldError(field, f"{text!r} is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise FieldError(field, f"{text!r} is not a finite number")
    return value


def float_rate(field: str, text: str) -> Decimal:
    """A rate written as a binary float (``6.900000000000001e-4``) -> Decimal rounded to 10
    significant digits (``0.00069``), removing the float's representation noise."""
    return Decimal(format(to_float(field, text), ".10g"))


class TimeColumn:
    """Reads one column of timestamps: ISO strings, or integers in one unit for the whole
    column (HAZARDS H3). The unit is the one most of the column's integers have (by digits:
    10 s, 13 ms, 16 us, 19 ns), so that one odd row is reported as the odd one."""

    def __init__(self, field: str, rows: Iterable[Row | ImportDataError] = ()) -> None:
        self.field = field
        self.unit: timeutil.TimeUnit | None = None
        digits = Counter(
            len(v.strip())
            for row in rows
            if isinstance(row, Row)
            and isinstance(v := row.values.get(field), str)
            and v.strip().isdigit()
        )
        for n, _ in digits.most_common():
            unit = timeutil.UNIT_BY_DIGITS.get(n)
            if unit is not None:
                self.unit = unit
                break

    def parse(self, text: str) -> int:
        """The timestamp in ms, range-checked; errors name the field."""
        try:
            if text.isdigit() and self.unit is None:
                self.unit = timeutil.int_unit(text)
            return timeutil.parse_ts_ms(text, self.unit)
        except ValueError as exc:
            raise FieldError(self.field, str(exc)) from None


def check_iso_copy(row: Row, iso_field: str, field: str, ts_ms: int) -> None:
    """An ISO 8601 copy of a time column must name the same instant as ``field`` (``ts_ms``)."""
    iso_text = require(row, iso_field)
    iso_ms = TimeColumn(iso_field).parse(iso_text)
    if iso_ms != ts_ms:
        raise FieldError(
            iso_field, f"{iso_text!r} disagrees with {field} ({timeutil.ms_to_iso(ts_ms)})"
        )
