"""VCF (4.x) read line by line and written back with an added INFO field.

Only what variant scoring needs: the fixed columns (CHROM, POS, ID, REF, ALT, QUAL, FILTER, INFO)
of each record, the rest of the line kept verbatim, headers passed through. Plain or gzip/bgzip
input. A line that is not a VCF record (fewer than 8 columns, a POS that is not a positive number,
an empty REF) is reported through :class:`sciarch.BadRecords` with its line number and written out
unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import sciarch

from .annotation import open_text


@dataclass
class VcfRecord:
    """One VCF data line: 1-based ``pos``, ``alts`` split on commas, ``columns`` all of them."""

    line: int
    chrom: str
    pos: int
    id: str
    ref: str
    alts: list[str]
    columns: list[str]

    def with_info(self, key: str, value: str) -> str:
        """The line with ``key=value`` added to INFO (replacing an earlier ``key``)."""
        columns = list(self.columns)
        info = [] if columns[7] in (".", "") else [f for f in columns[7].split(";") if not f.startswith(key + "=")]
        columns[7] = ";".join(info + [f"{key}={value}"])
        return "\t".join(columns)


def read_vcf(path: str | os.PathLike, report: sciarch.BadRecords | None = None
             ) -> Iterator[tuple[str, VcfRecord | None]]:
    """Yield ``(raw line without newline, record)`` for each line; the record is None for headers and
    for malformed lines (which are reported)."""
    report = report if report is not None else sciarch.BadRecords(source=str(path))
    seen_header = False
    with open_text(path) as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if line.startswith("#"):
                seen_header = seen_header or line.startswith("#CHROM")
                yield line, None
                continue
            if not line.strip():
                continue
            columns = line.split("\t")
            problem = None
            if len(columns) < 8:
                problem = f"expected at least 8 tab-separated columns, found {len(columns)}"
            elif not columns[1].isdigit() or int(columns[1]) < 1:
                problem = f"POS {columns[1]!r} is not a positive whole number"
            elif not columns[3] or columns[3] == ".":
                problem = "empty REF"
            if problem:
                report.skip(problem, file=path, record=f"line {number}", kind="malformed VCF line")
                yield line, None
                continue
            if not seen_header:
                raise sciarch.DataError("data line before the #CHROM header line (is this a VCF?)", file=path,
                                        record=f"line {number}")
            yield line, VcfRecord(number, columns[0], int(columns[1]), columns[2], columns[3].upper(),
                                  columns[4].upper().split(","), columns)
