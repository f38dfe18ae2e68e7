"""Preparation of genome + annotation into sharded, memory-mapped splice-site arrays.

:func:`prepare_splice_sites` reads the annotation one contig at a time (GTF/GFF3 are streamed;
GenBank records are read whole), labels every gene as SpliceAI does (:mod:`.labels`) and appends
its segment to that contig's shard. Memory stays bounded by the largest gene, not the genome: a
whole human genome with GENCODE prepares on a laptop. The output folder is written atomically
(filled beside its final name, renamed into place when complete) and holds::

    manifest.json            settings, inputs, shards, counts, skipped records, timings
    <contig>/sequence.u8     segment codes (A C G T N = 0..4), one byte a base
    <contig>/labels.i8       labels aligned with sequence: -1 pad, 0 none, 1 acceptor, 2 donor
    <contig>/blocks.npy      (n_blocks, 2) int64: window start in the arrays, gene index
    <contig>/genes.json      each gene: id, name, strand, span, offset, blocks, sites

:class:`SpliceShards` opens a prepared folder read-only, with every array memory-mapped.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import sciarch

from .annotation import AnnotationFormat, Gene, detect_format, read_annotation, read_genbank
from .labels import Flank, Isoforms, label_gene
from .reference import Reference, open_reference

FORMAT = "sciarch-splice-shards"
VERSION = 1


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB.

    Linux's ``VmHWM`` where there is one: unlike ``ru_maxrss`` it starts afresh at ``exec``, so a child
    process does not inherit its parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if os.uname().sysname != "Darwin" else peak / 2**20


def _shard_name(chrom: str, used: set[str]) -> str:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in chrom) or "contig"
    name, k = safe, 1
    while name in used:
        k += 1
        name = f"{safe}.{k}"
    used.add(name)
    return name


def prepare_splice_sites(annotation: str | os.PathLike, out: str | os.PathLike, *,
                         fasta: str | os.PathLike | None = None, block_length: int = 5000,
                         context: int = 10000, flank: Flank = "N", isoforms: Isoforms = "canonical",
                         biotypes: Sequence[str] | None = None, annotation_format: AnnotationFormat = "auto",
                         strict: bool = False, progress: bool = True) -> Path:
    """Label every gene of ``annotation`` on ``fasta`` and write shards to ``out`` (atomically).

    ``annotation`` is a GTF, GFF3 or GenBank file; GenBank carries its own sequence, so ``fasta``
    is needed for GTF/GFF3 only. ``biotypes`` keeps genes of those types (``protein_coding``; genes
    whose file gives no type are kept). Returns ``out``.
    """
    annotation, out = Path(annotation), Path(out)
    fmt = detect_format(annotation) if annotation_format == "auto" else annotation_format
    report = sciarch.BadRecords(source=str(annotation), strict=strict)
    started = time.perf_counter()
    reference: Reference
    if fmt == "genbank":
        reference, by_contig = read_genbank(annotation, report)
        contigs: Iterable[tuple[str, list[Gene]]] = by_contig.items()
    else:
        if fasta is None:
            raise sciarch.UsageError(f"{annotation}: a {fmt.upper()} annotation needs a FASTA (fasta=...)")
        reference = open_reference(fasta)
        contigs = read_annotation(annotation, format=fmt, report=report)
    wanted = set(biotypes) if biotypes else None
    stats = {"genes": 0, "transcripts": 0, "blocks": 0, "bases": 0, "acceptors": 0, "donors": 0,
             "genes_without_introns": 0, "genes_other_biotype": 0, "transcripts_on_missing_contigs": 0,
             "transcripts_past_contig_end": 0, "genes_read": 0}
    shards: list[dict[str, Any]] = []
    used: set[str] = set()
    try:
        with sciarch.atomic_dir(out) as tmp:
            stream = sciarch.track(contigs, "preparing splice sites (contigs)") if progress else contigs
            for chrom, genes in stream:
                stats["genes_read"] += len(genes)
                name = reference.resolve(chrom)
                if name is None:
                    missing = sum(len(g.transcripts) for g in genes)
                    stats["transcripts_on_missing_contigs"] += missing
                    report.skip(f"contig {chrom} is not in the FASTA: {missing} transcript(s) of {len(genes)} "
                                "gene(s) skipped", file=annotation, record=f"contig {chrom}",
                                kind="contig not in FASTA")
                    continue
                entry = _write_shard(tmp, _shard_name(chrom, used), chrom, genes, reference, name, report,
                                     stats, annotation=annotation, block_length=block_length, context=context,
                                     flank=flank, isoforms=isoforms, wanted=wanted)
                if entry is not None:
                    shards.append(entry)
            seconds = time.perf_counter() - started
            if not shards:
                raise sciarch.DataError(f"no gene with an intron could be labelled ({report.summary()}; "
                                        f"{stats['genes_read']} genes read)", file=annotation)
            manifest = {
                "format": FORMAT, "version": VERSION,
                "block_length": block_length, "context": context, "flank": flank, "isoforms": isoforms,
                "biotypes": sorted(wanted) if wanted else None,
                "annotation": str(annotation.resolve()), "annotation_format": fmt,
                "fasta": str(Path(fasta).resolve()) if fasta else None,
                "shards": shards, "stats": stats,
                "bad_records": report.to_dict() | {"summary": report.summary()},
                "seconds": round(seconds, 3),
                "genes_per_second": round(stats["genes"] / seconds, 2) if seconds > 0 else None,
                "peak_rss_mb": round(peak_rss_mb(), 1),
            }
            sciarch.write_json(tmp / "manifest.json", manifest)
    finally:
        reference.close()
    if report.count:
        sciarch.console.print(report.summary(), soft_wrap=True)
    return out


def _write_shard(root: Path, shard: str, chrom: str, genes: list[Gene], reference: Reference, contig: str,
                 report: sciarch.BadRecords, stats: dict[str, int], *, annotation: Path, block_length: int,
                 context: int, flank: Flank, isoforms: Isoforms, wanted: set[str] | None) -> dict[str, Any] | None:
    folder = root / shard
    folder.mkdir()
    length = reference.contigs[contig]
    records: list[dict[str, Any]] = []
    blocks: list[tuple[int, int]] = []
    offset = 0
    with open(folder / "sequence.u8", "wb") as seq_out, open(folder / "labels.i8", "wb") as lab_out:
        for gene in genes:
            if wanted is not None and gene.biotype and gene.biotype not in wanted:
                stats["genes_other_biotype"] += 1
                continue
            inside = [t for t in gene.transcripts if t.end <= length]
            for t in gene.transcripts:
                if t.end > length:
                    stats["transcripts_past_contig_end"] += 1
                    report.skip(f"transcript {t.id} ends at {t.end}, past the end of {chrom} ({length} bases)",
                                file=annotation, record=f"transcript {t.id}", kind="past contig end")
            if not inside:
                continue
            if len(inside) != len(gene.transcripts):
                gene = Gene(id=gene.id, chrom=gene.chrom, strand=gene.strand, transcripts=inside, name=gene.name,
                            biotype=gene.biotype)
            labelled = label_gene(gene, reference, block_length=block_length, context=context, flank=flank,
                                  isoforms=isoforms)
            if labelled is None:
                stats["genes_without_introns"] += 1
                continue
            seq_out.write(labelled.sequence.tobytes())
            lab_out.write(labelled.labels.tobytes())
            index = len(records)
            for k in range(labelled.n_blocks):
                blocks.append((offset + k * block_length, index))
            records.append({"id": gene.id, "name": gene.name, "strand": gene.strand, "start": labelled.start,
                            "end": labelled.end, "offset": offset, "blocks": labelled.n_blocks,
                            "acceptors": labelled.acceptors, "donors": labelled.donors,
                            "transcripts": len(gene.transcripts)})
            offset += len(labelled.sequence)
            stats["genes"] += 1
            stats["transcripts"] += len(gene.transcripts)
            stats["blocks"] += labelled.n_blocks
            stats["bases"] += labelled.end - labelled.start
            stats["acceptors"] += labelled.acceptors
            stats["donors"] += labelled.donors
    if not records:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
        return None
    np.save(folder / "blocks.npy", np.asarray(blocks, dtype=np.int64).reshape(-1, 2))
    sciarch.write_json(folder / "genes.json", records)
    return {"name": shard, "chrom": chrom, "genes": len(records), "blocks": len(blocks), "length": offset}


@dataclass
class Shard:
    """One contig's prepared arrays, memory-mapped."""

    root: Path
    name: str
    chrom: str
    length: int

    @cached_property
    def sequence(self) -> np.ndarray:
        return np.memmap(self.root / self.name / "sequence.u8", dtype=np.uint8, mode="r", shape=(self.length,))

    @cached_property
    def labels(self) -> np.ndarray:
        return np.memmap(self.root / self.name / "labels.i8", dtype=np.int8, mode="r", shape=(self.length,))

    @cached_property
    def blocks(self) -> np.ndarray:
        return np.load(self.root / self.name / "blocks.npy", mmap_mode="r")

    @cached_property
    def genes(self) -> list[dict[str, Any]]:
        return json.loads((self.root / self.name / "genes.json").read_text())

    def __getstate__(self) -> dict[str, Any]:  # memmaps are reopened in each loader worker
        return {k: getattr(self, k) for k in ("root", "name", "chrom", "length")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


class SpliceShards:
    """A prepared folder, read-only: its manifest and one :class:`Shard` per contig."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        path = self.root / "manifest.json"
        if not path.is_file():
            raise sciarch.DataError("not a prepared splice-site folder (no manifest.json)", file=self.root)
        self.manifest = json.loads(path.read_text())
        if self.manifest.get("format") != FORMAT or self.manifest.get("version") != VERSION:
            raise sciarch.DataError(f"unknown format {self.manifest.get('format')!r} version "
                                    f"{self.manifest.get('version')!r}; prepare it again", file=path)
        self.block_length = int(self.manifest["block_length"])
        self.context = int(self.manifest["context"])
        self.shards = [Shard(self.root, s["name"], s["chrom"], int(s["length"])) for s in self.manifest["shards"]]

    def window(self, shard: int, start: int) -> tuple[np.ndarray, np.ndarray]:
        """``(codes, labels)`` of the window starting at ``start`` in ``shard``."""
        s = self.shards[shard]
        sl, half = self.block_length, self.context // 2
        return (np.asarray(s.sequence[start:start + sl + self.context]),
                np.asarray(s.labels[start + half:start + half + sl]))

    def iter_blocks(self) -> Iterator[tuple[int, int, dict[str, Any]]]:
        """``(shard index, window start, gene record)`` for every block."""
        for i, shard in enumerate(self.shards):
            genes = shard.genes
            for start, gene in np.asarray(shard.blocks):
                yield i, int(start), genes[int(gene)] | {"chrom": shard.chrom}
