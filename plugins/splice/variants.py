"""Variant scoring: how much a variant gains or loses acceptor and donor sites nearby (SpliceAI's Δ scores).

For each variant, each ALT allele and each annotated gene whose span contains the variant, the
reference window and the alternative window (``2D + 1`` scored positions around the variant plus the
model's context) are read on the gene's strand and scored; the difference alt − ref over the ``±D``
window gives, as in SpliceAI (Jaganathan et al., 2019):

    DS_AG = max(Δ acceptor)   DS_AL = max(−Δ acceptor)   DS_DG = max(Δ donor)   DS_DL = max(−Δ donor)

and ``DP_*``, the offset from the variant (genome orientation) where each maximum lies. Deletions
score the deleted positions as 0 on the alternative allele; insertions take the maximum over the
inserted bases. Output: the input VCF with ``SpliceAI=ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|
DP_AL|DP_DG|DP_DL`` in INFO (one entry per allele and gene, comma-separated). With ``mask`` (SpliceAI's
``-M 1``) a gain at the annotated exon boundary nearest the variant and a loss elsewhere score 0.
Genes come from a GTF/GFF3 (each gene's canonical transcript gives the exon boundaries) or from
SpliceAI's own annotation table (``grch38.txt``). Variants that cannot be
scored (multi-base substitutions and complex indels, symbolic alleles, deletions longer than 2D)
get ``.`` scores as SpliceAI writes them. Variants whose REF does not match the FASTA, or on contigs
the FASTA lacks, are reported and written out unannotated. Work is batched: windows of equal length
are scored together, ``chunk`` records at a time.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import sciarch
import torch
from sciarch_datasets.genomics.annotation import Gene, read_annotation
from sciarch_datasets.genomics.reference import Reference, open_reference
from sciarch_datasets.genomics.sequence import N, decode, encode, reverse_complement
from sciarch_datasets.genomics.vcf import VcfRecord, read_vcf

from .predict import pick_device, probabilities

INFO_KEY = "SpliceAI"
INFO_HEADER = (f'##INFO=<ID={INFO_KEY},Number=.,Type=String,Description="Splice-site delta scores from sciarch '
               'splice score-variants: acceptor gain/loss and donor gain/loss (DS, 0-1) and their offsets '
               'from the variant (DP). Format: ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL">')


@dataclass
class GeneSpan:
    start: int
    end: int
    strand: str
    name: str
    #: 1-based positions of the annotated exon boundaries (first and last base of each exon)
    boundaries: tuple[int, ...] = ()

    def nearest_boundary(self, pos: int) -> int | None:
        """Offset from 1-based ``pos`` to the closest exon boundary (SpliceAI: the first of a tie)."""
        if not self.boundaries:
            return None
        return min((b - pos for b in self.boundaries), key=abs)


class GeneIndex:
    """Gene spans by contig, for "which genes contain this position" queries."""

    def __init__(self, genes: dict[str, list[GeneSpan]]) -> None:
        self.genes = {c: sorted(g, key=lambda s: s.start) for c, g in genes.items()}
        self.starts = {c: [g.start for g in gs] for c, gs in self.genes.items()}
        self.longest = {c: max((g.end - g.start for g in gs), default=0) for c, gs in self.genes.items()}

    @classmethod
    def from_annotation(cls, path: str | Path, report: sciarch.BadRecords | None = None) -> GeneIndex:
        genes: dict[str, list[GeneSpan]] = {}
        for chrom, found in read_annotation(path, report=report):
            genes.setdefault(chrom, []).extend(_span(g) for g in found)
        return cls(genes)

    def containing(self, chrom: str, position: int) -> list[GeneSpan]:
        """Genes whose span (0-based, end excluded) contains ``position``."""
        from sciarch_datasets.genomics.reference import contig_aliases

        for alias in contig_aliases(chrom):
            if alias in self.genes:
                genes, starts = self.genes[alias], self.starts[alias]
                hi = bisect.bisect_right(starts, position)
                lo = bisect.bisect_left(starts, position - self.longest[alias])
                return [g for g in genes[lo:hi] if g.start <= position < g.end]
        return []


def _span(gene: Gene) -> GeneSpan:
    exons = gene.canonical().exons
    boundaries = tuple(sorted({s + 1 for s, _ in exons} | {e for _, e in exons}))
    return GeneSpan(gene.start, gene.end, gene.strand, gene.name or gene.id, boundaries)


@dataclass
class _Job:
    record: int  # index in the chunk
    pos: int  # 1-based
    allele: str
    gene: GeneSpan
    ref_codes: np.ndarray
    alt_codes: np.ndarray | None  # None: not scorable, write "."
    ref_len: int
    alt_len: int


def _window(reference: Reference, chrom: str, pos0: int, wid: int, gene: GeneSpan, mask_outside: bool) -> np.ndarray:
    lo = pos0 - wid // 2
    codes = reference.fetch(chrom, lo, lo + wid)
    if mask_outside:  # the model was trained with N outside genes: show it the same
        codes[:max(0, min(wid, gene.start - lo))] = N
        codes[max(0, gene.end - lo):] = N
    return codes


def _deltas(y_ref: np.ndarray, y_alt: np.ndarray, ref_len: int, alt_len: int, cov: int,
            boundary: int | None = None) -> tuple[list[float], list[int]]:
    """Δ scores and offsets; with ``boundary`` (the offset of the annotated exon boundary nearest the
    variant: SpliceAI's ``-M 1``), a gain at it and a loss anywhere else score 0."""
    if ref_len > alt_len:  # deletion: deleted positions score 0 on the alternative allele
        gap = np.zeros((ref_len - alt_len, 3), dtype=y_alt.dtype)
        y_alt = np.concatenate([y_alt[:cov // 2 + alt_len], gap, y_alt[cov // 2 + alt_len:]])
    elif alt_len > ref_len:  # insertion: the inserted bases count as one position, their maximum
        inserted = y_alt[cov // 2:cov // 2 + alt_len].max(axis=0, keepdims=True)
        y_alt = np.concatenate([y_alt[:cov // 2], inserted, y_alt[cov // 2 + alt_len:]])
    delta = y_alt - y_ref  # (cov, 3)
    columns = [delta[:, 1], -delta[:, 1], delta[:, 2], -delta[:, 2]]  # AG, AL, DG, DL
    scores = [float(max(0.0, c.max())) for c in columns]
    offsets = [int(c.argmax()) - cov // 2 for c in columns]
    if boundary is not None:
        for i, gain in enumerate((True, False, True, False)):  # AG, AL, DG, DL
            if (offsets[i] == boundary) == gain:
                scores[i] = 0.0
    return scores, offsets


def score_vcf(model: torch.nn.Module, vcf: str | Path, fasta: str | Path, annotation: str | Path, output: str | Path, *,
              distance: int = 50, batch_size: int = 64, chunk: int = 2000, flank: Literal["N", "genome"] = "N",
              mask: bool = False, device: str = "auto") -> dict[str, Any]:
    """Annotate ``vcf`` with Δ scores into ``output`` (atomically); returns counts and the bad-record report.

    ``mask`` (SpliceAI's ``-M 1``): a gain at the annotated exon boundary nearest the variant, and a
    loss anywhere but there, are written as 0 (the offsets are kept), as SpliceAI masks them.
    """
    if distance < 0:
        raise sciarch.UsageError(f"distance must be >= 0, got {distance}")
    dev = pick_device(device)
    model = model.to(dev).eval()
    context = int(getattr(model, "context", 0))
    cov = 2 * distance + 1
    wid = context + cov
    annotation_report = sciarch.BadRecords(source=str(annotation))
    index = GeneIndex.from_annotation(annotation, annotation_report)
    if annotation_report.count:  # each record was logged as it was skipped; the count, once
        sciarch.console.print(annotation_report.summary(), soft_wrap=True, markup=False)
    report = sciarch.BadRecords(source=str(vcf))
    counts = {"records": 0, "annotated": 0, "scored": 0, "unscorable": 0, "outside_genes": 0}
    with open_reference(fasta) as reference, sciarch.atomic_write(output, "w", encoding="utf-8") as out:
        pending: list[tuple[str, VcfRecord | None]] = []

        def flush() -> None:
            _score_chunk(pending, out, model, reference, index, report, counts, dev=dev, cov=cov, wid=wid,
                         batch_size=batch_size, mask_outside=flank == "N", mask=mask)
            pending.clear()

        for line, record in read_vcf(vcf, report):
            if record is None:
                if line.startswith("#CHROM"):
                    out.write(INFO_HEADER + "\n")
                if line.startswith(f"##INFO=<ID={INFO_KEY},"):
                    continue
                if pending:
                    pending.append((line, None))
                else:
                    out.write(line + "\n")
                continue
            counts["records"] += 1
            pending.append((line, record))
            if len(pending) >= chunk:
                flush()
        flush()
    if report.count:
        sciarch.console.print(report.summary(), soft_wrap=True)
    return {**counts, "distance": distance, "context": context, "output": str(output),
            "skipped": report.to_dict(), "annotation_skipped": annotation_report.count}


def _score_chunk(pending: list[tuple[str, VcfRecord | None]], out: Any, model: torch.nn.Module, reference: Reference,
                 index: GeneIndex, report: sciarch.BadRecords, counts: dict[str, int], *, dev: torch.device,
                 cov: int, wid: int, batch_size: int, mask_outside: bool, mask: bool = False) -> None:
    jobs: list[_Job] = []
    usable: set[int] = set()
    for i, (_, record) in enumerate(pending):
        if record is None:
            continue
        contig = reference.resolve(record.chrom)
        if contig is None:
            report.skip(f"contig {record.chrom} is not in the FASTA", file=report.source,
                        record=f"line {record.line}", kind="contig not in FASTA")
            continue
        pos0 = record.pos - 1
        ref_len = len(record.ref)
        found = decode(reference.fetch(contig, pos0, pos0 + ref_len))
        if found != decode(encode(record.ref)):
            report.skip(f"REF {record.ref} does not match the FASTA ({found}) at {record.chrom}:{record.pos}",
                        file=report.source, record=f"line {record.line}", kind="REF mismatch")
            continue
        genes = index.containing(record.chrom, pos0)
        if not genes:
            counts["outside_genes"] += 1
            continue
        usable.add(i)
        for gene in genes:
            ref_codes = _window(reference, contig, pos0, wid, gene, mask_outside)
            for alt in record.alts:
                alt_len = len(alt)
                snv = ref_len == alt_len == 1
                insertion = ref_len == 1 < alt_len and alt[0] == record.ref[0]
                deletion = alt_len == 1 < ref_len and alt[0] == record.ref[0] and ref_len - alt_len <= cov - 1
                scorable = set(alt) <= set("ACGTN") and alt != record.ref and (snv or insertion or deletion)
                alt_codes = None
                if scorable:
                    alt_codes = np.concatenate([ref_codes[:wid // 2], encode(alt), ref_codes[wid // 2 + ref_len:]])
                jobs.append(_Job(i, record.pos, alt, gene, ref_codes, alt_codes, ref_len, alt_len))
    # score windows of equal length together (all SNVs share one length; each indel size its own)
    results: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    groups: dict[int, list[tuple[int, np.ndarray, str]]] = {}
    for j, job in enumerate(jobs):
        if job.alt_codes is None:
            continue
        groups.setdefault(len(job.ref_codes), []).append((j, job.ref_codes, job.gene.strand))
        groups.setdefault(len(job.alt_codes), []).append((-j - 1, job.alt_codes, job.gene.strand))
    scored: dict[int, np.ndarray] = {}
    for _, items in groups.items():
        windows = np.stack([reverse_complement(c) if s == "-" else c for _, c, s in items])
        probs = probabilities(model, windows, dev, batch_size)
        for (key, _, strand), p in zip(items, probs, strict=True):
            scored[key] = p[::-1] if strand == "-" else p
    for j, job in enumerate(jobs):
        if job.alt_codes is not None:
            results[j] = (scored[j], scored[-j - 1])
    entries: dict[int, list[str]] = {}
    for j, job in enumerate(jobs):
        if j in results:
            y_ref, y_alt = results[j]
            boundary = job.gene.nearest_boundary(job.pos) if mask else None
            scores, offsets = _deltas(y_ref, y_alt, job.ref_len, job.alt_len, cov, boundary)
            entry = "|".join([job.allele, job.gene.name, *(f"{s:.2f}" for s in scores), *(str(o) for o in offsets)])
            counts["scored"] += 1
        else:
            entry = f"{job.allele}|{job.gene.name}|.|.|.|.|.|.|.|."
            counts["unscorable"] += 1
        entries.setdefault(job.record, []).append(entry)
    for i, (line, record) in enumerate(pending):
        if record is not None and i in entries:
            out.write(record.with_info(INFO_KEY, ",".join(entries[i])) + "\n")
            counts["annotated"] += 1
        else:
            out.write(line + "\n")


def score_variants(run: Any, vcf: str | Path, fasta: str | Path, annotation: str | Path, output: str | Path,
                   **options: Any) -> dict[str, Any]:
    """Score with a trained run; the N-or-genome flank follows what the run was trained with."""
    from .predict import load_model

    model = load_model(run)
    flank = options.pop("flank", None) or run.config.data.args.get("flank", "N")
    return score_vcf(model, vcf, fasta, annotation, output, flank=flank, **options)
