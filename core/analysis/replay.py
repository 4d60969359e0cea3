"""Reading replay files and driving an engine through them.

A replay file is JSON lines, optionally gzip-compressed (detected by its magic bytes): a
:class:`~core.domain.events.ReplayHeader` line, then events in time order (format in
:mod:`core.domain.events`); or the same events in the columnar form
(:mod:`core.analysis.replay_arrow`, ``.arrow``, optional extra ``arbtui[arrow]``).
Any bad line raises :class:`ReplayError` naming the file and line: a line that does not
decode, an event out of time order, a ``ts_ms`` or ``settlement_ts_ms`` outside the sane
range (:func:`core.domain.timeutil.check_range_ms`, the importer's check; HAZARDS H3) and a
funding rate the importer would refuse (:mod:`core.domain.funding_caps`: implausible, or
beyond the venue's cap when the caller hands the caps in). These checks run once a block in
C-level operations and look line by line only at a block that fails them.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator, Sequence
from itertools import chain, compress
from operator import attrgetter, not_
from pathlib import Path
from typing import IO, get_args

import msgspec

from core.analysis.replay_arrow import (
    ArrowReplayError,
    first_drop,
    is_arrow,
    iter_arrow_blocks,
    write_arrow,
)
from core.domain import timeutil
from core.domain.errors import BadInput
from core.domain.events import (
    ORDER,
    Event,
    FundingRate,
    FundingSettled,
    ReplayHeader,
    ReplayLine,
    decode,
    decode_lines,
    encode,
)
from core.domain.funding_caps import Caps, cap_floor, first_funding_fault

#: Replay speeds (sim seconds per wall second) the console steps through; None = max.
SPEED_STEPS: tuple[float | None, ...] = (1, 10, 60, 600, 3600, 14400, 86400, None)


#: Bytes of a plain file read and decoded in one msgspec call; time order is checked once a
#: block. A block with a bad or blank line is decoded again line by line for its number.
BLOCK_BYTES = 1 << 20

#: Compressed bytes of a gzip file inflated at once (a block of about six times that).
GZIP_READ = 1 << 16

#: ``ORDER`` by event type: an event's sort key is ``ts_ms * 4 + _RANK[type]``.
_RANK: dict[type, int] = {t: ORDER[t.__struct_config__.tag] for t in get_args(Event)}


class ReplayError(BadInput):
    """A replay file is missing, unreadable or has a bad line (message: ``file:line: why``;
    ``file`` and ``line`` as attributes too)."""


def _bad(path: Path, line: int | None, why: str) -> ReplayError:
    where = str(path) if line is None else f"{path}:{line}"
    return ReplayError(f"{where}: {why}", file=str(path), line=line)


def _open(path: Path) -> tuple[IO[bytes], Callable[[], bytes]]:
    """The file and a ``read()`` of its next block of bytes (decompressed when it is gzip,
    detected by its magic bytes; ``b""`` at the end)."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise _bad(path, None, f"cannot open replay file: {exc.strerror}") from None
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return raw, _Gunzip(raw).read
    return raw, lambda: raw.read(BLOCK_BYTES)


class _Gunzip:
    """A gzip file (RFC 1952; one member or several) inflated by zlib directly,
    :data:`GZIP_READ` compressed bytes a call, in the reader's own thread. (A thread of its
    own for decompression made a year's replay slower, not faster: it fought the engine for
    the GIL at every read and every inflate, bench/scale_bench.py.) Raises ``EOFError`` for
    a file cut short, after handing on what it held, and ``gzip.BadGzipFile`` for damaged
    data (its CRC or length wrong included)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.inflate = zlib.decompressobj(wbits=31)  # 31: a gzip wrapper, its CRC checked

    def read(self) -> bytes:
        """The next decompressed block; ``b""`` at the end of the file."""
        while True:
            piece = self.raw.read(GZIP_READ)
            if not piece:
                if not self.inflate.eof:
                    raise EOFError(
                        "Compressed file ended before the end-of-stream marker was reached"
                    )
                return b""
            try:
                out = self.inflate.decompress(piece)
                # another member after the end of one (zero padding between them is skipped)
                while self.inflate.eof and (more := self.inflate.unused_data.lstrip(b"\x00")):
                    self.inflate = zlib.decompressobj(wbits=31)
                    out += self.inflate.decompress(more)
            except zlib.error as exc:
                raise gzip.BadGzipFile(f"damaged gzip data: {exc}") from None
            if out:
                return out


def _first_line(read: Callable[[], bytes]) -> tuple[bytes, bytes]:
    """The first line (with its newline) and the bytes read after it."""
    data = b""
    while (nl := data.find(b"\n")) < 0:
        piece = read()
        if not piece:
            return data, b""
        data += piece
    return data[: nl + 1], data[nl + 1 :]


def iter_replay(path: str | Path, caps: Caps | None = None) -> tuple[ReplayHeader, Iterator[Event]]:
    """Open ``path`` and return its header and a lazy iterator over its events.

    JSON lines (plain or gzip) are read in blocks (:data:`BLOCK_BYTES` of a plain file, what
    :data:`GZIP_READ` compressed bytes inflate to of a gzip one), each decoded in one msgspec
    call and its time order, ``ts_ms`` range and funding rates checked at once; the
    iterator checks each line (type, fields, time order, ``ts_ms`` in 2009..2040, rates
    plausible and within ``caps``: :func:`core.venues.history.funding_caps`, as the importer;
    None checks plausibility only; ``settlement_ts_ms`` in 2009..2040) and raises
    :class:`ReplayError` with ``file:line`` (and ``field X`` for a bad value) on the first bad
    one. A columnar file (Arrow IPC, :mod:`core.analysis.replay_arrow`; detected by its magic
    bytes) gives the same events, memory-mapped, checked alike, its errors naming the event
    row.
    """
    p = Path(path)
    caps = caps or {}
    if is_arrow(p):
        return _iter_columnar(p, caps)
    fh, read = _open(p)
    try:
        first, after_header = _first_line(read)
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

    floor = cap_floor(caps)

    def blocks() -> Iterator[list[Event]]:
        last = -1  # sort key of the last event: ts_ms * 4 + ORDER[type]
        count = 0
        lineno = 1  # the line number of the last line already yielded or checked
        rest = after_header
        try:
            while True:
                block = read()
                data = rest + block
                if not block:
                    if data.strip():
                        data += b"" if data.endswith(b"\n") else b"\n"
                    else:
                        if count != header.events:
                            raise _bad(
                                p,
                                lineno,
                                f"the file ends after {count} events; its header "
                                f"promises {header.events} (cut short?)",
                            )
                        return
                cut = data.rfind(b"\n") + 1
                if cut == 0:  # one long line so far: read on
                    rest = data
                    continue
                rest = data[cut:]
                body = memoryview(data)[:cut]  # a view: the block is not copied again
                n_lines = data.count(b"\n", 0, cut)
                try:
                    batch = decode_lines(body)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    batch = None
                if batch is not None and len(batch) == n_lines:
                    line_of = _dense(lineno)
                else:  # a bad or blank line: decode line by line for its number
                    lines = bytes(body).splitlines(keepends=True)
                    batch = _decode_each(p, lines, lineno)
                    line_of = _sparse(lines, lineno)
                scan = _scan_block(batch, last)  # one check a block, C-level loops
                if scan is None:  # a line is out of order or out of range, or a header
                    raise _first_fault(p, batch, last, line_of)
                last, rated = scan
                if rated:
                    fault = first_funding_fault(list(map(batch.__getitem__, rated)), caps, floor)  # type: ignore[arg-type]
                    if fault is not None:
                        raise _bad(p, line_of(rated[fault[0]]), fault[1])
                count += len(batch)
                lineno += n_lines
                yield batch  # type: ignore[misc]
        except (OSError, EOFError) as exc:
            if isinstance(exc, EOFError):
                why = f"cannot read: {exc} (cut short after line {lineno}?)"
            else:  # damaged data or a failing disk
                why = f"cannot read: {exc} (after line {lineno})"
            raise _bad(p, lineno + 1, why) from None
        finally:
            fh.close()

    # the events of each block, handed on by C-level iteration (one generator step a block,
    # not one an event)
    return header, chain.from_iterable(blocks())


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


def _dense(before: int) -> Callable[[int], int]:
    """Line numbers of a block without blank lines: event ``index`` is line ``before+1+index``."""
    return lambda index: before + 1 + index


def _sparse(chunk: list[bytes], before: int) -> Callable[[int], int]:
    """The file line number of the ``index``-th non-blank line of ``chunk``."""

    def line_of(index: int) -> int:
        seen = -1
        for i, line in enumerate(chunk):
            if line.strip():
                seen += 1
                if seen == index:
                    return before + 1 + i
        return before + len(chunk)

    return line_of


_ts_of = attrgetter("ts_ms")
_is_rank0 = frozenset(t for t, rank in _RANK.items() if rank == 0).__contains__
assert frozenset(_RANK) - {t for t, r in _RANK.items() if r == 0} == {FundingSettled, FundingRate}


def _scan_block(batch: list[ReplayLine], last: int) -> tuple[int, list[int]] | None:
    """``(key, rated)`` when every event of ``batch`` is in order (each sort key ``ts_ms * 4
    + ORDER[type]`` at least the one before it, ``last`` before the first) and every
    ``ts_ms`` lies in the sane range (:data:`core.domain.timeutil.MIN_TS_MS` ..
    ``MAX_TS_MS``): ``key`` is the last event's sort key, ``rated`` the indices of the
    settlements and rates (the events that carry a funding rate). None when an event is out
    of order or out of range, or a line is not an event (a header). The common case runs in
    C-level loops: the times must not fall (so the first and the last bound the range), and
    only the few events that do not rank first at their instant (settlements, rates) are
    looked at one by one, against their neighbours of the same ``ts_ms``."""
    try:
        ts: list[int] = list(map(_ts_of, batch))
    except AttributeError:  # a header has no ts_ms
        return None
    if ts[0] * 4 + 3 < last or ts != sorted(ts):
        return None
    if ts[0] < timeutil.MIN_TS_MS or ts[-1] >= timeutil.MAX_TS_MS:
        return None
    types = list(map(type, batch))
    rank = _RANK.get
    n = len(batch)
    rated = list(compress(range(n), map(not_, map(_is_rank0, types))))
    for i in rated:
        r = rank(types[i])
        if r is None:
            return None
        if i + 1 < n and ts[i + 1] == ts[i] and rank(types[i + 1], 9) < r:
            return None
    k0 = ts[0] * 4 + _RANK.get(types[0], 9)
    if k0 < last:
        return None
    return ts[-1] * 4 + _RANK.get(types[-1], 9), rated


def _first_fault(
    p: Path, batch: Sequence[ReplayLine], last: int, line_of: Callable[[int], int]
) -> ReplayError:
    """The error of a block :func:`_scan_block` refused, at its first bad line: a second
    header, a ``ts_ms`` outside the sane range (the importer's words,
    :func:`core.domain.timeutil.check_range_ms`: a value in microseconds or seconds is said to
    look like one), or an event out of time order (an out-of-range value is reported on its
    own line, not as the line after it being out of order)."""
    try:
        keys = [e.ts_ms * 4 + _RANK[type(e)] for e in batch]  # type: ignore[union-attr]
    except (KeyError, AttributeError):
        i = next(i for i, e in enumerate(batch) if isinstance(e, ReplayHeader))
        return _bad(p, line_of(i), "a second header line")
    drop = first_drop(keys, last)
    for i, ev in enumerate(batch[: drop + 1]):
        try:
            timeutil.check_range_ms(ev.ts_ms)  # type: ignore[union-attr]
        except ValueError as exc:
            return _bad(p, line_of(i), f"field ts_ms: {exc}")
    return _bad(
        p,
        line_of(drop),
        f"event out of time order (ts_ms {batch[drop].ts_ms})",  # type: ignore[union-attr]
    )


def _iter_columnar(p: Path, caps: Caps) -> tuple[ReplayHeader, Iterator[Event]]:
    try:
        header, it = iter_arrow_blocks(p, caps)
    except ArrowReplayError as exc:
        raise _bad(p, None, str(exc)) from None

    def blocks() -> Iterator[list[Event]]:
        try:
            yield from it
        except ArrowReplayError as exc:
            where = "" if exc.row is None else f"event row {exc.row}: "
            raise _bad(p, None, f"{where}{exc}") from None

    # a generator step a block, the events handed on by C-level iteration (as JSON lines)
    return header, chain.from_iterable(blocks())


def convert_replay(src: str | Path, out: str | Path, caps: Caps | None = None) -> Path:
    """Write the replay ``src`` (any form) at ``out``: columnar when ``out`` ends in
    ``.arrow``, else JSON lines (gzip when it ends in ``.gz``). Streamed: memory stays flat.
    Returns ``out``; :class:`ReplayError` for a bad input (read with ``caps`` as
    :func:`iter_replay`) or a missing ``pyarrow``."""
    header, events = iter_replay(src, caps)
    out = Path(out)
    if out.suffix == ".arrow":
        try:
            return write_arrow(out, header, events)
        except ArrowReplayError as exc:
            raise _bad(out, None, str(exc)) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with tmp.open("wb") as raw:
        sink: IO[bytes] = (
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)  # type: ignore[assignment]
            if out.name.endswith(".gz")
            else raw
        )
        sink.write(encode(header) + b"\n")
        batch: list[bytes] = []
        for ev in events:
            batch.append(encode(ev))
            if len(batch) >= 4096:
                sink.write(b"\n".join(batch) + b"\n")
                batch.clear()
        if batch:
            sink.write(b"\n".join(batch) + b"\n")
        if sink is not raw:
            sink.close()
    tmp.replace(out)
    return out


def load_replay(path: str | Path, caps: Caps | None = None) -> tuple[ReplayHeader, list[Event]]:
    """Read a whole replay into memory (a month of 1 m bars is about 35,000 events); ``caps``
    as :func:`iter_replay`."""
    header, it = iter_replay(path, caps)
    return header, list(it)
