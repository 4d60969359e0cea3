"""Reading replay files and driving an engine through them.

A replay file is JSON lines, optionally gzip-compressed (detected by its magic bytes): a
:class:`~core.domain.events.ReplayHeader` line, then events in time order (format in
:mod:`core.domain.events`). Any bad line raises :class:`ReplayError` naming the file and line.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import IO

import msgspec

from core.domain.errors import BadInput
from core.domain.events import Event, ReplayHeader, ReplayLine, decode, decode_lines, sort_key

#: Replay speeds (sim seconds per wall second) the console steps through; None = max.
SPEED_STEPS: tuple[float | None, ...] = (1, 10, 60, 600, 3600, 14400, 86400, None)


#: Lines decoded in one msgspec call (a bad chunk is decoded again line by line).
CHUNK_LINES = 4096


class ReplayError(BadInput):
    """A replay file is missing, unreadable or has a bad line (message: ``file:line: why``;
    ``file`` and ``line`` as attributes too)."""


def _bad(path: Path, line: int | None, why: str) -> ReplayError:
    where = str(path) if line is None else f"{path}:{line}"
    return ReplayError(f"{where}: {why}", file=str(path), line=line)


def _open(path: Path) -> IO[bytes]:
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise _bad(path, None, f"cannot open replay file: {exc.strerror}") from None
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    return raw


def iter_replay(path: str | Path) -> tuple[ReplayHeader, Iterator[Event]]:
    """Open ``path`` and return its header and a lazy iterator over its events.

    The iterator checks each line (type, fields, time order) and raises :class:`ReplayError`
    with ``file:line`` on the first bad one.
    """
    p = Path(path)
    fh = _open(p)
    try:
        first = fh.readline()
        header = decode(first) if first.strip() else None
    except (msgspec.DecodeError, msgspec.ValidationError, OSError, EOFError) as exc:
        fh.close()
        raise _bad(p, 1, f"not a replay header: {exc}") from None
    if not isinstance(header, ReplayHeader):
        fh.close()
        raise _bad(p, 1, "the first line must be the replay header")
    if header.version != 1:
        fh.close()
        raise _bad(p, 1, f"replay format version {header.version} is not supported")

    def events() -> Iterator[Event]:
        last = (-1, -1)
        count = 0
        lineno = 1  # the line number of the last line already yielded or checked
        try:
            while True:
                chunk = list(islice(fh, CHUNK_LINES))
                if not chunk:
                    if count != header.events:
                        raise _bad(
                            p,
                            lineno,
                            f"the file ends after {count} events; its header "
                            f"promises {header.events} (cut short?)",
                        )
                    return
                try:
                    batch = decode_lines(b"".join(chunk))
                except (msgspec.DecodeError, msgspec.ValidationError):
                    batch = None
                if batch is None or len(batch) != sum(1 for c in chunk if c.strip()):
                    batch = _decode_each(p, chunk, lineno)
                for i, ev in enumerate(batch):
                    if isinstance(ev, ReplayHeader):
                        raise _bad(p, _line_of(chunk, i, lineno), "a second header line")
                    key = sort_key(ev)
                    if key < last:
                        raise _bad(
                            p,
                            _line_of(chunk, i, lineno),
                            f"event out of time order (ts_ms {ev.ts_ms})",
                        )
                    last = key
                    count += 1
                    yield ev
                lineno += len(chunk)
        except (OSError, EOFError) as exc:
            raise _bad(p, lineno, f"cannot read: {exc}") from None
        finally:
            fh.close()

    return header, events()


def _decode_each(path: Path, chunk: list[bytes], before: int) -> list[ReplayLine]:
    """Decode a chunk line by line, raising on the first bad line with its number."""
    out = []
    for i, line in enumerate(chunk):
        if not line.strip():
            continue
        try:
            out.append(decode(line))
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise _bad(path, before + 1 + i, str(exc)) from None
    return out


def _line_of(chunk: list[bytes], index: int, before: int) -> int:
    """The file line number of the ``index``-th non-blank line of ``chunk``."""
    seen = -1
    for i, line in enumerate(chunk):
        if line.strip():
            seen += 1
            if seen == index:
                return before + 1 + i
    return before + len(chunk)


def load_replay(path: str | Path) -> tuple[ReplayHeader, list[Event]]:
    """Read a whole replay into memory (a month of 1 m bars is about 35,000 events)."""
    header, it = iter_replay(path)
    return header, list(it)
