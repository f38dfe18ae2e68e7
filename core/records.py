"""Bad records in big inputs: skipped, counted, reported, never silently dropped.

A data source makes one :class:`BadRecords` per input and calls :meth:`BadRecords.skip` for each
record it cannot use. In strict mode the first one raises :class:`~sciarch.errors.DataError`;
otherwise it is kept (file, record, reason) and the summary says how many were skipped and why.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
        log.warning("skipped %s: %s: %s", file, record_text, reason)

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
