"""Bad records in big inputs: skipped, counted, reported, never silently dropped.

A data source makes one :class:`BadRecords` per input and calls :meth:`BadRecords.skip` for each
record it cannot use. In strict mode the first one raises :class:`~sciarch.errors.DataError`;
otherwise it is kept (file, record, reason) and the summary says how many were skipped and why.
:func:`report_skipped` is the one way a reader shows them to the user, from a fresh read or from
a cache (:meth:`BadRecords.from_dict` rebuilds what :meth:`BadRecords.to_dict` stored).

Reading itself fails in few ways whatever the format: a truncated or corrupt gzip stream, bytes
that are not text. :func:`open_text` (plain or gzip text, line by line) and :func:`reading` (any
other read) turn those into a :class:`~sciarch.errors.DataError` naming the file and, where a line
is being read, the line, so no reader needs its own ``try``/``except`` and no command sees a bare
``EOFError`` (which Click would report as "aborted", as if the user had pressed Ctrl-C).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import os
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .errors import DataError

log = logging.getLogger("sciarch.data")


@dataclass
class BadRecord:
    file: str
    record: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.record}: {self.reason}"


@dataclass
class BadRecords:
    """Collects the records a reader skipped. ``strict=True`` raises on the first one."""

    source: str = ""
    strict: bool = False
    #: How many skipped records to keep in full (the count is always exact).
    keep: int = 1000
    records: list[BadRecord] = field(default_factory=list)
    count: int = 0
    reasons: Counter = field(default_factory=Counter)

    def skip(self, reason: str, *, file: str | Path | None = None, record: Any = None,
             kind: str | None = None) -> None:
        """Record that ``record`` of ``file`` was skipped because of ``reason``.

        ``kind`` groups reasons in the summary ("invalid SMILES", "REF mismatch").
        """
        file = str(file or self.source)
        record_text = record if isinstance(record, str) else f"record {record}"
        if self.strict:
            raise DataError(reason, file=file, record=record_text)
        self.count += 1
        self.reasons[kind or reason.split(":")[0][:80]] += 1
        if len(self.records) < self.keep:
            self.records.append(BadRecord(file, record_text, reason))
        log.log(logging.DEBUG if _QUIET else logging.WARNING, "skipped %s: %s: %s", file, record_text, reason)

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:  # a BadRecords is always truthy so `report or default` works
        return True

    def summary(self) -> str:
        if not self.count:
            return f"{self.source or 'input'}: no bad records"
        why = ", ".join(f"{n} {reason}" for reason, n in self.reasons.most_common())
        return f"{self.source or 'input'}: skipped {self.count} bad record(s) ({why})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "skipped": self.count,
            "reasons": dict(self.reasons),
            "records": [r.__dict__ for r in self.records],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, strict: bool = False) -> BadRecords:
        """The report :meth:`to_dict` stored (in a cache or manifest), to show or check again.

        ``strict=True`` raises the first stored record, as a strict fresh read would have.
        """
        report = cls(source=data.get("source", ""))
        report.count = int(data.get("skipped", 0))
        report.reasons = Counter(data.get("reasons") or {})
        report.records = [BadRecord(r["file"], r["record"], r["reason"]) for r in data.get("records") or []]
        if strict and report.records:
            first = report.records[0]
            raise DataError(first.reason, file=first.file, record=first.record)
        return report

    def show(self, *, limit: int = 20, quiet: bool = False) -> None:
        """Print the summary line and the first ``limit`` records (file, record, reason).

        ``quiet`` prints the summary line only. Nothing is printed when nothing was skipped.
        """
        report_skipped(self, limit=limit, quiet=quiet)


_QUIET = False


@contextlib.contextmanager
def quiet_skips(quiet: bool = True) -> Iterator[None]:
    """Within the block, skipped records are reported as one summary line per input (``-q``):
    :func:`report_skipped` prints no records and :meth:`BadRecords.skip` logs them at DEBUG."""
    global _QUIET
    previous, _QUIET = _QUIET, quiet or _QUIET
    try:
        yield
    finally:
        _QUIET = previous


def report_skipped(report: BadRecords | dict[str, Any], *, limit: int = 20, quiet: bool = False) -> None:
    """Tell the user what a reader skipped: ``SOURCE: skipped N bad record(s) (why)`` and, unless
    ``quiet`` (or within :func:`quiet_skips`), the first ``limit`` records as ``file: record: reason``.

    The same from a fresh read and from a cache (give the stored :meth:`BadRecords.to_dict`).
    """
    if isinstance(report, dict):
        report = BadRecords.from_dict(report)
    if not report.count:
        return
    from .progress import console

    console.print(report.summary(), soft_wrap=True, markup=False, highlight=False)
    if quiet or _QUIET:
        return
    for record in report.records[:limit]:
        console.print(f"  {record}", soft_wrap=True, markup=False, highlight=False)
    if report.count > min(limit, len(report.records)):
        console.print(f"  ... and {report.count - min(limit, len(report.records))} more", markup=False)


# -- reading -----------------------------------------------------------------------------------

#: Errors that mean "the bytes of this file are damaged", whatever reads them.
_DAMAGE = (EOFError, zlib.error, gzip.BadGzipFile)


def describe_damage(exc: BaseException) -> str:
    """The problem, in a user's words, behind an error raised while reading a file's bytes."""
    if isinstance(exc, EOFError):
        return "truncated gzip (the compressed stream ends early)"
    if isinstance(exc, gzip.BadGzipFile):
        return f"corrupt gzip ({exc})"
    if isinstance(exc, zlib.error):
        return f"corrupt gzip ({exc})"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text ({exc.reason} at byte {exc.start})"
    text = str(exc).strip().splitlines()
    return f"cannot read ({text[0] if text else type(exc).__name__})"


@contextlib.contextmanager
def reading(path: str | os.PathLike, *, record: Any = None) -> Iterator[None]:
    """Turn a damaged-file error raised inside the block into a :class:`DataError` naming ``path``."""
    try:
        yield
    except DataError:
        raise
    except (*_DAMAGE, UnicodeDecodeError) as exc:
        raise DataError(describe_damage(exc), file=path, record=record) from None


def is_gzip(path: str | os.PathLike) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


class TextInput:
    """A text file read line by line whose damage is reported as ``DataError(file, line N)``.

    Iterating gives lines (with their newline), as a file does; ``line`` is the number of the last
    line read. ``read``/``readline`` are there for parsers (Biopython) that ask for them.
    """

    def __init__(self, handle: IO[str], path: Path) -> None:
        self._handle = handle
        self.path = path
        self.line = 0

    def _damaged(self, exc: BaseException) -> DataError:
        return DataError(describe_damage(exc), file=self.path, record=f"line {self.line + 1}")

    def __iter__(self) -> TextInput:
        return self

    def __next__(self) -> str:
        try:
            text = next(self._handle)
        except StopIteration:
            raise
        except (*_DAMAGE, UnicodeDecodeError, OSError) as exc:
            raise self._damaged(exc) from None
        self.line += 1
        return text

    def readline(self, size: int = -1) -> str:
        try:
            text = self._handle.readline(size)
        except (*_DAMAGE, UnicodeDecodeError, OSError) as exc:
            raise self._damaged(exc) from None
        if text.endswith("\n"):
            self.line += 1
        return text

    def read(self, size: int = -1) -> str:
        try:
            text = self._handle.read(size)
        except (*_DAMAGE, UnicodeDecodeError, OSError) as exc:
            raise self._damaged(exc) from None
        self.line += text.count("\n")
        return text

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> TextInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def open_text(path: str | os.PathLike, *, encoding: str = "utf-8", errors: str = "replace") -> TextInput:
    """Open a text input, gzip/bgzip or plain, for reading line by line.

    A missing file, a truncated or corrupt gzip stream (and, with ``errors="strict"``, bytes that
    are not ``encoding``) raise :class:`DataError` naming the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("no such file", file=path)
    if is_gzip(path):
        handle: IO[str] = io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding,  # noqa: SIM115
                                           errors=errors)
    else:
        handle = open(path, encoding=encoding, errors=errors)  # noqa: SIM115
    return TextInput(handle, path)
