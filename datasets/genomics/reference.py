"""Reference genomes with random access: FASTA through pyfaidx (``.fai``), plain or compressed.

:func:`open_reference` opens a FASTA file for fetching any stretch of any contig without reading
the genome into memory. Plain FASTA and BGZF-compressed FASTA (``bgzip``) are indexed where they
lie (``.fai``, ``.gzi``), or in the cache when that folder is read-only; a FASTA compressed with
plain ``gzip`` cannot be read at random, so it is decompressed once into the cache. Sequences come
back as code arrays (:mod:`.sequence`): IUPAC ambiguity codes become N, and a stretch reaching past
either end of a contig is padded with N, as SpliceAI pads its windows.

Contig names are matched with or without a ``chr`` prefix (``chr1`` = ``1``, ``chrM`` = ``MT``), so
an Ensembl FASTA works with a UCSC-style annotation and the other way round.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import sciarch

from .sequence import N, encode

_GZIP_MAGIC = b"\x1f\x8b"


def contig_aliases(name: str) -> list[str]:
    """The names ``name`` may go by in another naming convention (UCSC ``chr1`` vs Ensembl ``1``)."""
    out = [name]
    bare = name[3:] if name.lower().startswith("chr") else name
    out += [bare, "chr" + bare]
    if bare in ("M", "MT"):
        out += ["chrM", "MT", "M"]
    return list(dict.fromkeys(out))


class Reference:
    """A genome: contig lengths, and :meth:`fetch` of any stretch as codes."""

    #: contig name -> length in bases
    contigs: dict[str, int]

    def resolve(self, name: str) -> str | None:
        """This genome's name for contig ``name`` (tried with and without ``chr``), or None."""
        for alias in contig_aliases(name):
            if alias in self.contigs:
                return alias
        return None

    def _read(self, contig: str, start: int, end: int) -> str | np.ndarray:
        raise NotImplementedError

    def fetch(self, contig: str, start: int, end: int) -> np.ndarray:
        """Codes of ``contig[start:end]`` (0-based, end excluded); N where it runs past either end."""
        name = self.resolve(contig)
        if name is None:
            raise KeyError(contig)
        length = self.contigs[name]
        out = np.full(max(0, end - start), N, dtype=np.uint8)
        lo, hi = max(start, 0), min(end, length)
        if hi > lo:
            seq = self._read(name, lo, hi)
            out[lo - start:hi - start] = encode(seq) if isinstance(seq, (str, bytes)) else seq
        return out

    def close(self) -> None:
        pass

    def __enter__(self) -> Reference:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SequenceDict(Reference):
    """A genome held in memory: sequences by name (GenBank records, tests)."""

    def __init__(self, sequences: Mapping[str, str | np.ndarray], source: str = "<memory>") -> None:
        self.source = source
        self._codes = {name: encode(seq) if isinstance(seq, str) else np.asarray(seq, dtype=np.uint8)
                       for name, seq in sequences.items()}
        self.contigs = {name: len(codes) for name, codes in self._codes.items()}

    def _read(self, contig: str, start: int, end: int) -> np.ndarray:
        return self._codes[contig][start:end]


class FastaReference(Reference):
    """A FASTA file opened with pyfaidx; see :func:`open_reference`."""

    def __init__(self, path: str | os.PathLike) -> None:
        pyfaidx = sciarch.require("pyfaidx", "genomics")
        self.path = Path(path)
        if not self.path.is_file():
            raise sciarch.DataError("no such FASTA file", file=self.path)
        readable = _readable_copy(self.path)
        index_kwargs = _index_names(readable)
        try:
            self._fasta = pyfaidx.Fasta(str(readable), as_raw=True, sequence_always_upper=True,
                                        read_ahead=1 << 16, **index_kwargs)
        except Exception as exc:  # pyfaidx raises its own errors and ValueError for duplicates
            raise sciarch.DataError(f"cannot index FASTA ({type(exc).__name__}: {_first_line(exc)})",
                                    file=self.path) from None
        self.contigs = {name: len(record) for name, record in self._fasta.records.items()}
        if not self.contigs:
            raise sciarch.DataError("no sequences (is this a FASTA file?)", file=self.path)

    def _read(self, contig: str, start: int, end: int) -> str:
        try:
            return self._fasta[contig][start:end]
        except Exception as exc:
            raise sciarch.DataError(f"cannot read {contig}:{start + 1}-{end} ({_first_line(exc)})",
                                    file=self.path) from None

    def close(self) -> None:
        self._fasta.close()


def open_reference(path: str | os.PathLike) -> FastaReference:
    """Open a FASTA (plain, bgzip or gzip) for random access."""
    return FastaReference(path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def is_bgzf(path: Path) -> bool:
    """True for a BGZF file: gzip with the ``BC`` extra subfield in its first block's header."""
    with open(path, "rb") as handle:
        header = handle.read(18)
    return (len(header) >= 16 and header[:2] == _GZIP_MAGIC and header[3] & 4 != 0
            and header[12:14] == b"BC")


def _readable_copy(path: Path) -> Path:
    """``path`` itself unless it is plain gzip, which is decompressed once into the cache."""
    if not is_gzip(path) or is_bgzf(path):
        return path
    import gzip

    key = sciarch.content_key("gunzip", {"name": path.name, "size": path.stat().st_size,
                                         "mtime_ns": path.stat().st_mtime_ns, "path": str(path.resolve())})
    target = sciarch.cache_dir("genomics", "fasta") / f"{key}-{path.name.removesuffix('.gz')}"
    if not target.is_file():
        sciarch.console.print(f"{path}: gzip (not bgzip) cannot be read at random; decompressing once to {target}")
        from sciarch import reading

        with reading(path), gzip.open(path, "rb") as src, sciarch.atomic_write(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 22)  # truncated or corrupt: DataError naming the file
    return target


def _index_names(path: Path) -> dict[str, str]:
    """Index beside the FASTA if we may write there (or an index is already there), else in the cache."""
    fai = path.with_name(path.name + ".fai")
    if fai.is_file() or os.access(path.parent, os.W_OK):
        return {}
    key = sciarch.content_key("faidx", {"path": str(path.resolve()), "size": path.stat().st_size,
                                        "mtime_ns": path.stat().st_mtime_ns})
    folder = sciarch.cache_dir("genomics", "fai")
    out = {"indexname": str(folder / f"{key}-{path.name}.fai")}
    if is_bgzf(path):
        out["gzi_indexname"] = str(folder / f"{key}-{path.name}.gzi")
    return out


def write_fasta(path: str | os.PathLike, records: Iterable[tuple[str, str]], *, width: int = 60) -> Path:
    """Write ``(name, sequence)`` records as FASTA, atomically."""
    path = Path(path)
    with sciarch.atomic_write(path, "w", encoding="ascii") as handle:
        for name, seq in records:
            handle.write(f">{name}\n")
            for i in range(0, len(seq), width):
                handle.write(seq[i:i + width])
                handle.write("\n")
    return path
