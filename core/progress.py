"""Progress on anything long: a rich bar on a terminal, a few plain log lines elsewhere."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console

T = TypeVar("T")

#: Messages and tables go to standard error; standard output is kept for data (JSON, TSV).
#: In a log or a pipe (no terminal, no COLUMNS) tables get 140 columns instead of rich's 80, so names
#: and statuses are not folded into several lines.
console = Console(stderr=True, highlight=False,
                  width=None if sys.stderr.isatty() or "COLUMNS" in os.environ else 140)


def interactive() -> bool:
    return sys.stderr.isatty()


def track(items: Iterable[T], description: str, total: int | None = None, *,
          every_seconds: float = 30.0) -> Iterator[T]:
    """Iterate ``items`` with a progress bar (terminal) or a line every ``every_seconds`` (logs)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if interactive():
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn()]
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task(description, total=total)
            for item in items:
                yield item
                progress.advance(task)
        return
    start = last = time.monotonic()
    for done, item in enumerate(items, start=1):
        yield item
        now = time.monotonic()
        if now - last >= every_seconds:
            last = now
            of = f"/{total}" if total else ""
            console.print(f"{description}: {done}{of} ({now - start:.0f} s)")
