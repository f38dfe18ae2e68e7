"""Errors the host raises, split by who must act: the user (exit 2) or the program (exit 1).

The CLI prints a :class:`UsageError` as one line and exits with status 2; anything else that
escapes is a failure (status 1). Data sources raise :class:`DataError` naming the file, the record
and the problem, so a user can find the bad line without a traceback.
"""

from __future__ import annotations

import difflib
from pathlib import Path


class SciarchError(Exception):
    """Base class of every error sciarch raises on purpose."""

    exit_code = 1


class UsageError(SciarchError):
    """The user asked for something that cannot be done as asked (exit status 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A recipe or override is wrong: unknown key, wrong type, unknown name, bad YAML.

    ``source`` is the YAML file (or ``--set``) and ``key`` the dotted key, so the message reads
    ``freesolv.yaml:12: model.args.hiden: unknown argument ...``.
    """

    def __init__(self, message: str, *, source: str | Path | None = None, key: str | None = None,
                 line: int | None = None) -> None:
        self.source = str(source) if source is not None else None
        self.key = key
        self.line = line
        self.problem = message
        where = ""
        if self.source:
            where = self.source + (f":{line}" if line else "") + ": "
        if key:
            where += f"{key}: "
        super().__init__(where + message)


class NotFoundError(UsageError):
    """A named model, dataset, recipe, task, run or file does not exist."""


class DataError(UsageError):
    """An input file is unreadable or a record in it is wrong.

    The message names the file, the record (a line, row, record id) and the problem.
    """

    def __init__(self, problem: str, *, file: str | Path | None = None, record: str | int | None = None) -> None:
        problem = _unwrap_worker_message(problem)
        self.file = str(file) if file is not None else None
        self.record = record
        self.problem = problem
        parts = []
        if self.file:
            parts.append(self.file)
        if record is not None:
            parts.append(f"record {record}" if not isinstance(record, str) else record)
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {problem}" if prefix else problem)


def _unwrap_worker_message(problem: str) -> str:
    """The original message of an error re-raised from a DataLoader worker process.

    PyTorch re-raises a worker's exception as ``type(exc)(text)`` where the text is "Caught
    DataError in DataLoader worker process 0. Original Traceback ...": the user gets the original
    one-line message back, not a traceback.
    """
    if not (problem.startswith("Caught ") and "Original Traceback" in problem):
        return problem
    for line in reversed(problem.strip().splitlines()):
        head, sep, message = line.partition("Error: ")
        if sep and head.split(".")[-1].endswith("Data"):
            return message
    return problem.strip().splitlines()[-1]


class MissingDependencyError(UsageError):
    """An optional library is not installed; the message gives the exact pip command."""

    def __init__(self, module: str, extra: str | None, *, distribution: str = "sciarch",
                 install: str | None = None) -> None:
        self.module = module
        self.extra = extra
        #: the command that fixes it (:func:`sciarch.imports.install_hint` knows editable installs)
        self.install = install or (f'pip install "{distribution}[{extra}]"' if extra else f"pip install {module}")
        super().__init__(f"{module} not installed: {self.install}")


class PluginError(SciarchError):
    """A plugin failed to load (in strict mode) or two plugins claim one name."""


def did_you_mean(name: str, known: list[str] | set[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``known``, or an empty string."""
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.5)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
