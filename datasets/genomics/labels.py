"""Splice-site labels and windows exactly as SpliceAI defines them (Jaganathan et al., Cell 2019).

A gene is labelled along its pre-mRNA, in the direction of transcription (a minus-strand gene is
reverse complemented): 0 for no site, 1 for an acceptor (the first base of an exon after an
intron), 2 for a donor (the last base of an exon before an intron). Its sequence is cut into blocks
of ``SL = block_length`` labelled positions; each block is read with ``CL/2 = context/2`` bases of
context on either side, so a window is ``SL + CL`` bases long and the network predicts its middle
``SL``. Positions past the gene's end in its last block are padding, labelled -1 (masked in the
loss; SpliceAI one-hot encodes them as all zeros).

The context outside the gene is N by default, one-hot all zeros, as SpliceAI's training data has
it ("context being provided on the RNA and not the DNA"); ``flank="genome"`` reads the real genome
there instead. The layout in memory is one segment per gene::

    [CL/2 flank][gene, n bases][pad to a multiple of SL][CL/2 flank]      (n_blocks·SL + CL bases)

with labels aligned base for base (-1 on flanks and pad), so block ``k`` is
``sequence[k·SL : k·SL + SL + CL]`` and its labels ``labels[CL/2 + k·SL : CL/2 + (k+1)·SL]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .annotation import Gene
from .reference import Reference
from .sequence import N, reverse_complement

NONE, ACCEPTOR, DONOR = 0, 1, 2
PADDING = -1
CLASS_NAMES = ("none", "acceptor", "donor")

Flank = Literal["N", "genome"]
Isoforms = Literal["canonical", "all"]


@dataclass
class LabelledGene:
    """One gene's segment: codes and labels, in the direction of transcription."""

    gene_id: str
    name: str
    chrom: str
    strand: str
    #: genome span labelled (0-based, end excluded)
    start: int
    end: int
    sequence: np.ndarray
    labels: np.ndarray
    block_length: int
    context: int
    acceptors: int
    donors: int

    @property
    def n_blocks(self) -> int:
        return (len(self.sequence) - self.context) // self.block_length

    def block(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Window ``k``: ``(codes of SL + CL bases, labels of the SL middle positions)``."""
        sl, half = self.block_length, self.context // 2
        return (self.sequence[k * sl:k * sl + sl + self.context],
                self.labels[half + k * sl:half + (k + 1) * sl])


def splice_sites(gene: Gene, isoforms: Isoforms = "canonical") -> tuple[int, int, list[int], list[int]]:
    """``(start, end, acceptors, donors)`` in genome coordinates for the transcripts labelled.

    ``canonical``: the gene's canonical transcript, over its own span. ``all``: the union of every
    transcript's sites, over the union of their spans.
    """
    transcripts = [gene.canonical()] if isoforms == "canonical" else gene.transcripts
    start = min(t.start for t in transcripts)
    end = max(t.end for t in transcripts)
    acceptors = sorted({p for t in transcripts for p in t.acceptors})
    donors = sorted({p for t in transcripts for p in t.donors})
    return start, end, acceptors, donors


def label_gene(gene: Gene, reference: Reference, *, block_length: int = 5000, context: int = 10000,
               flank: Flank = "N", isoforms: Isoforms = "canonical") -> LabelledGene | None:
    """Label ``gene`` as SpliceAI does; None when its transcripts have no intron (nothing to label)."""
    if context % 2 or context < 0:
        raise ValueError(f"context must be even and >= 0, got {context}")
    if block_length < 1:
        raise ValueError(f"block_length must be positive, got {block_length}")
    start, end, acceptors, donors = splice_sites(gene, isoforms)
    if not acceptors and not donors:
        return None
    n = end - start
    n_blocks = -(-n // block_length)
    half = context // 2
    total = n_blocks * block_length + context
    minus = gene.strand == "-"
    if flank == "genome":
        if minus:
            sequence = reverse_complement(reference.fetch(gene.chrom, end - n_blocks * block_length - half, end + half))
        else:
            sequence = reference.fetch(gene.chrom, start - half, start + n_blocks * block_length + half)
    else:
        sequence = np.full(total, N, dtype=np.uint8)
        body = reference.fetch(gene.chrom, start, end)
        sequence[half:half + n] = reverse_complement(body) if minus else body
    labels = np.full(total, PADDING, dtype=np.int8)
    labels[half:half + n] = NONE

    def offset(position: int) -> int:
        return half + ((end - 1 - position) if minus else (position - start))

    for position in acceptors:
        labels[offset(position)] = ACCEPTOR
    for position in donors:
        labels[offset(position)] = DONOR
    return LabelledGene(gene_id=gene.id, name=gene.name, chrom=gene.chrom, strand=gene.strand, start=start,
                        end=end, sequence=sequence, labels=labels, block_length=block_length, context=context,
                        acceptors=len(acceptors), donors=len(donors))


SPLICEAI_TEST_CHROMOSOMES = ("chr1", "chr3", "chr5", "chr7", "chr9")


def bare_contig(name: str) -> str:
    """``chr1`` and ``1`` compare equal: the name without a ``chr`` prefix."""
    return name[3:] if name.lower().startswith("chr") else name


def split_of(chrom: str, gene_id: str, *, test_chromosomes: tuple[str, ...] | list[str] = SPLICEAI_TEST_CHROMOSOMES,
             val_chromosomes: tuple[str, ...] | list[str] | None = None, val_fraction: float = 0.1) -> str:
    """``train``, ``val`` or ``test`` for a gene, by chromosome as SpliceAI splits.

    Test: the gene's chromosome is one of ``test_chromosomes`` (SpliceAI: chr1, 3, 5, 7, 9).
    Validation: one of ``val_chromosomes`` if given, else a fixed ``val_fraction`` of the other
    genes chosen by a hash of the gene id (SpliceAI holds out 10% of training genes), so the split
    does not depend on file order or on the run's seed.
    """
    import zlib

    bare = bare_contig(chrom)
    if bare in {bare_contig(c) for c in test_chromosomes}:
        return "test"
    if val_chromosomes is not None:
        return "val" if bare in {bare_contig(c) for c in val_chromosomes} else "train"
    return "val" if zlib.crc32(gene_id.encode()) % 10_000 < val_fraction * 10_000 else "train"
