"""The bad-input sweep kept as tests: every hostile input gets a clear answer.

Each case makes its own files (tiny ones), runs the command a user would run (in this process,
through :func:`sciarch.cli.main`, so a case costs the command and not an interpreter start) and
checks four things: the exit status (2 for bad input, never 1 or 130), that the message names the
file and the record, that the valid records were kept (counts), and that no traceback is printed.

Trained runs that several cases need (a molecules run, a splice run) are made once per session by
the plugins' smoke recipes.
"""

from __future__ import annotations

import gzip
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from sciarch.cli import main

TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s*File \".*\", line \d+", re.MULTILINE)


@dataclass
class Result:
    """What a user sees: the exit status and everything printed (stdout and stderr)."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    def check(self, code: int, *needles: str) -> Result:
        """The exit status is ``code``, every needle is printed, and no traceback is."""
        assert not TRACEBACK.search(self.text), self.text[-3000:]
        assert self.code == code, f"exit {self.code}, wanted {code}:\n{self.text[-3000:]}"
        for needle in needles:
            assert needle in self.text, f"{needle!r} not in:\n{self.text[-3000:]}"
        if code == 2:
            assert "aborted" not in self.text and "--debug for the traceback" not in self.text
        return self


@pytest.fixture
def sciarch(capsys, caplog):
    """``sciarch(*args)`` runs the command in this process and returns a :class:`Result`.

    The records a reader logs as it skips them (``sciarch.data`` warnings, which a real process
    prints on stderr) are caught by pytest's log capture here, so they are added to ``err``.
    """

    def run(*args: object) -> Result:
        _follow_captured_stderr()
        capsys.readouterr()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="sciarch"):
            code = main([str(a) for a in args])
        captured = capsys.readouterr()
        logged = "".join(f"{r.getMessage()}\n" for r in caplog.records if r.name.startswith("sciarch"))
        return Result(code, captured.out, captured.err + logged)

    return run


def _follow_captured_stderr() -> None:
    """Point the stream handlers libraries installed (Lightning's) at this test's captured stderr:
    one left on an earlier test's closed stream prints a logging error, not the message."""
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                handler.stream = sys.stderr  # not setStream: it flushes the closed one


def truncate(path: Path, fraction: float = 0.5) -> Path:
    """Cut ``path`` to ``fraction`` of its bytes, in place."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def gzip_file(path: Path, target: Path | None = None) -> Path:
    target = target or path.with_name(path.name + ".gz")
    target.write_bytes(gzip.compress(path.read_bytes()))
    return target


def corrupt_gzip(path: Path) -> Path:
    """Overwrite bytes in the middle of a gzip member (its header and size stay)."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    return path


# -- trained runs, made once -----------------------------------------------------------------------

MOLECULES = [
    "C", "CC", "CCC", "CCO", "c1ccccc1", "CCN", "CO", "CCCC", "CC(=O)O", "CCCl", "OCCO", "CNC",
    "CCCO", "CCOC", "c1ccncc1", "CC(C)O", "CCS", "C=C", "C#N", "OC=O",
]


def molecule_csv(path: Path, rows: list[tuple[str, str]] | None = None, header: str = "smiles,y") -> Path:
    rows = rows if rows is not None else [(s, f"{i * 0.25:.2f}") for i, s in enumerate(MOLECULES)]
    path.write_text(header + "\n" + "".join(f"{s},{y}\n" for s, y in rows), encoding="utf-8")
    return path


def molecule_recipe(folder: Path, data: Path, **args: object) -> Path:
    """A tiny D-MPNN recipe on a SMILES CSV (one epoch, CPU, no cache, no worker processes)."""
    extra = "".join(f", {k}: {v}" for k, v in args.items())
    recipe = folder / "mol.yaml"
    recipe.write_text(
        "seed: 0\n"
        f"data:\n  name: molecules/smiles-csv\n  args: {{path: '{data}', targets: [y], batch_size: 8, workers: 0, "
        f"cache: false{extra}}}\n"
        "model:\n  name: molecules/dmpnn\n  args: {hidden: 8, ffn_hidden: 8, depth: 2}\n"
        "task:\n  name: molecules/property\n"
        "trainer: {max_epochs: 1, accelerator: cpu}\n",
        encoding="utf-8")
    return recipe


@pytest.fixture(scope="session")
def molecule_run(tmp_path_factory) -> Path:
    """A run of the tiny D-MPNN recipe on 20 molecules (a few seconds)."""
    root = tmp_path_factory.mktemp("molecule_run")
    recipe = molecule_recipe(root, molecule_csv(root / "train.csv"))
    run = root / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCIARCH_CACHE", str(root / "cache"))
        assert main(["train", str(recipe), "--quiet", "--run-dir", str(run)]) == 0
    return run


@pytest.fixture(scope="session")
def splice_run(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A smoke run of SpliceAI-400 and the simulated genome (FASTA, GTF) it trained on."""
    from sciarch.runs import Run

    root = tmp_path_factory.mktemp("splice_run")
    run = root / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCIARCH_CACHE", str(root / "cache"))
        assert main(["train", "splice/spliceai-400", "--smoke", "--quiet", "--run-dir", str(run)]) == 0
        fasta, gtf = Run(run).build()[0].inputs()
    return run, Path(fasta), Path(gtf)
