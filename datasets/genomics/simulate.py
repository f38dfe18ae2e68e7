"""A gene simulator: a genome FASTA and a GTF whose splice sites follow the grammar of real ones.

The embedded default of the splice plugin: it needs no download and is fixed by its seed. Genes
lie on both strands of chromosomes named ``chr1``, ``chr2``, ... (so SpliceAI's test chromosomes
chr1, 3, 5, 7, 9 apply), separated by intergenic stretches. Each gene is built 5'→3' from:

- **exons** of 50–300 bases (log-normal, first and last exons longer, as UTRs make them), GC-richer
  than introns and carrying 1–3 **exonic splicing enhancers** (SR-protein hexamers such as GAAGAA);
- **introns** of 100 bases to tens of kilobases (log-normal, long-tailed), T-rich, opening with a
  **donor** drawn from a position weight matrix around the consensus MAG|GURAGU (GU fixed, the
  rest variable, so true donors range from strong to weak), and closing with a **branch point**
  (yUnAy) 20–50 nt upstream of the acceptor, a **polypyrimidine tract**, and the acceptor
  (Y)nNCAG|G; no AG lies between the branch point and the acceptor (the AG exclusion zone);
- **decoys** everywhere: GT and AG occur by chance every few dozen bases, and on top of them
  donor 9-mers drawn from the true donors' own matrix (one per ~800 bases) and pyrimidine-tract +
  CAG acceptor-like motifs without a branch point (one per ~1,000 bases) are sprinkled through
  introns and intergenic DNA, and introns hold **pseudo-exons** (one per ~4 kb): a full
  acceptor and donor around an exon-sized stretch carrying exonic splicing *silencers* (hnRNP A1
  sites such as TAGGGT) instead of enhancers;
- **alternative isoforms**: some genes have a second or third transcript that skips a cassette
  exon, or uses an alternative 5' (donor) or 3' (acceptor) site inside an exon. The full-length
  transcript is tagged ``Ensembl_canonical``; the alternative sites are real sites that the
  canonical labels call "none", as in GENCODE.

So a model cannot score well by spotting GT and AG, or even consensus motifs: it must weigh motif
strength, the branch point and tract, the enhancers and silencers, and whether an acceptor and a
donor are an exon's length apart.

**Long-range determinants** (``long_range=True``, the default since simulator version 3). On top of
the above, each gene carries decoys whose ±40 bases are drawn from exactly the same distributions as
real sites' (same matrices, branch point, tract, exonic composition and enhancers), so that only
context farther away tells them from real ones:

- **exon definition** (Berget 1995): in vertebrates an internal exon is recognised as a unit, its
  acceptor and donor paired across the exon, and exons are rarely over ~300 nt (Sterner, Carlo and
  Berget 1996). *Orphan* acceptors (an acceptor region and an exon-like body, but no donor within
  300 nt downstream) and *orphan* donors (an exon-like body and a donor, but no acceptor within 300
  nt upstream) are never used. The missing partner lies 50–300 nt away: beyond SpliceAI-80's 40
  bases a side, mostly within SpliceAI-400's 200.
- **distal silencers**: intronic pseudo-exons with good local consensus outnumber real exons in
  human introns and are kept out of the mRNA by elements around them (Sun and Chasin 2000); intronic
  regulatory elements act over hundreds of bases and more, with effects that depend on their position
  relative to the exon (Ule et al. 2006, the Nova RNA map), and CA-repeats bound by hnRNP L regulate
  exons from within introns (Hui et al. 2005). Here (a stylised rule) every acceptor and donor within
  1,000 bases downstream of a *near block* (the hnRNP A1 site UAGGGU eight times) or 4,000 bases
  downstream of a *far block* ((CA)30) is not used. Regulated genes (half of them) carry cassettes
  inserted into introns: a near block with a pseudo-exon whose acceptor lies 250–700 bases after it
  (seen by SpliceAI-2k, not by SpliceAI-400), or a far block with one or two pseudo-exons
  1,200–3,400 bases after it (seen only by SpliceAI-10k and the SSM); each cassette is padded with
  intron to its block's reach, so no real site ever lies downstream within reach of a block.

Each gene lists these decoys (:attr:`SimulatedGene.decoys`), so tests can check the grammar.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sciarch

from .reference import write_fasta
from .sequence import A, G, T, decode, reverse_complement

SIMULATOR_VERSION = 3

#: per-position base probabilities (A, C, G, T), human-like, around MAG|GURAGU (positions -3..+6)
DONOR_PWM = np.array([
    [0.35, 0.35, 0.18, 0.12],  # -3  M
    [0.62, 0.12, 0.13, 0.13],  # -2  A
    [0.09, 0.04, 0.81, 0.06],  # -1  G
    [0.00, 0.00, 1.00, 0.00],  # +1  G
    [0.00, 0.00, 0.00, 1.00],  # +2  U
    [0.60, 0.03, 0.35, 0.02],  # +3  R
    [0.70, 0.08, 0.10, 0.12],  # +4  A
    [0.07, 0.06, 0.80, 0.07],  # +5  G
    [0.16, 0.16, 0.18, 0.50],  # +6  U
])
#: decoy donors are drawn from the true donors' own matrix: motif strength alone cannot tell them apart
DECOY_DONOR_PWM = DONOR_PWM
#: acceptor positions -3..+1: Y A G | G
ACCEPTOR_PWM = np.array([
    [0.04, 0.66, 0.01, 0.29],  # -3  Y (C preferred)
    [1.00, 0.00, 0.00, 0.00],  # -2  A
    [0.00, 0.00, 1.00, 0.00],  # -1  G
    [0.25, 0.13, 0.50, 0.12],  # +1  G (first exonic base)
])
#: branch point yUnAy, the adenosine fourth
BRANCH_PWM = np.array([
    [0.05, 0.55, 0.05, 0.35],  # y
    [0.05, 0.05, 0.05, 0.85],  # U
    [0.45, 0.10, 0.35, 0.10],  # n (mostly R)
    [1.00, 0.00, 0.00, 0.00],  # A
    [0.05, 0.55, 0.05, 0.35],  # y
])
PYRIMIDINE_TRACT = np.array([0.08, 0.37, 0.07, 0.48])
EXON_BASES = np.array([0.26, 0.25, 0.26, 0.23])
INTRON_BASES = np.array([0.27, 0.19, 0.20, 0.34])
INTERGENIC_BASES = np.array([0.30, 0.20, 0.20, 0.30])
#: SR-protein binding exonic splicing enhancers (purine-rich, GAR and ACDC classes)
ENHANCERS = ("GAAGAA", "GAGGAA", "AAGAAG", "GGAGGA", "GACGAC", "CGAAGA", "TGGAAG", "GAAGAT")
#: hnRNP A1 / H exonic splicing silencers
SILENCERS = ("TAGGGT", "TTAGGG", "GGTAGG", "TAGGTA", "GGGGTT", "TGGGTA")
#: distal silencer blocks (transcript orientation): every acceptor and donor within REACH bases
#: downstream of a block is not used. The near block is a cluster of hnRNP A1 sites (UAGGGU), the far
#: one a (CA)n repeat (hnRNP L); neither holds GT or AG.
NEAR_BLOCK = "TAGGGT" * 8
FAR_BLOCK = "CA" * 30
NEAR_REACH, FAR_REACH = 1000, 4000
#: where a silenced pseudo-exon's acceptor lies downstream of its block's end: (near, far) tiers
SILENCED_DISTANCES = ((250, 700), (1200, 3400))
#: exon definition: no partner site within this many bases marks an orphan acceptor or donor
EXON_DEFINITION_SPAN = 300


@dataclass
class SimulatedTranscript:
    id: str
    exons: list[tuple[int, int]]  # gene-local, 5'->3' orientation
    canonical: bool
    kind: str  # "canonical", "skip", "alt5", "alt3"


@dataclass
class SimulatedGene:
    id: str
    name: str
    chrom: str
    strand: str
    start: int  # genome, 0-based
    sequence: np.ndarray  # codes, 5'->3' (transcript orientation)
    transcripts: list[SimulatedTranscript]
    #: long-range decoys, gene-local 5'->3': (kind, acceptor or -1, donor or -1, block start or -1);
    #: kind "orphan_acceptor", "orphan_donor", "silenced_near" or "silenced_far"
    decoys: list[tuple[str, int, int, int]] = field(default_factory=list)
    regulated: bool = False

    def genome_exons(self, transcript: SimulatedTranscript) -> list[tuple[int, int]]:
        """Exons in genome coordinates (0-based, end excluded), sorted by start."""
        n = len(self.sequence)
        if self.strand == "+":
            return sorted((self.start + a, self.start + b) for a, b in transcript.exons)
        return sorted((self.start + n - b, self.start + n - a) for a, b in transcript.exons)


def _sample(rng: np.random.Generator, pwm: np.ndarray) -> np.ndarray:
    """One sequence drawn position by position from a (length, 4) weight matrix."""
    cumulative = np.cumsum(pwm / pwm.sum(axis=1, keepdims=True), axis=1)
    draws = rng.random((len(pwm), 1))
    return np.minimum((draws > cumulative).sum(axis=1), 3).astype(np.uint8)


def _background(rng: np.random.Generator, n: int, probs: np.ndarray) -> np.ndarray:
    return rng.choice(4, size=max(0, n), p=probs).astype(np.uint8)


def _motif(text: str) -> np.ndarray:
    return np.array(["ACGT".index(c) for c in text], dtype=np.uint8)


def _plant(rng: np.random.Generator, seq: np.ndarray, motifs: list[np.ndarray], lo: int, hi: int) -> None:
    """Write each motif at a random position within ``seq[lo:hi]`` (skipped if it does not fit)."""
    for motif in motifs:
        if hi - lo - len(motif) <= 0:
            return
        at = int(rng.integers(lo, hi - len(motif)))
        seq[at:at + len(motif)] = motif


def _remove_ag(seq: np.ndarray) -> None:
    """Mutate every AG dinucleotide in ``seq`` to AT (in place): the AG exclusion zone."""
    hits = np.flatnonzero((seq[:-1] == A) & (seq[1:] == G))
    seq[hits + 1] = T


class GeneSimulator:
    """Draws genes; every length and rate is a constructor argument."""

    def __init__(self, rng: np.random.Generator, *, intron_median: float = 600.0, intron_sigma: float = 1.1,
                 intron_min: int = 100, intron_max: int = 30_000, exon_median: float = 130.0,
                 exons_mean: float = 6.0, max_exons: int = 14, isoform_rate: float = 0.4,
                 decoy_donor_every: int = 800, decoy_acceptor_every: int = 1000,
                 pseudo_exon_every: int = 4000, long_range: bool = True, orphan_every: int = 2500,
                 regulated_rate: float = 0.5, near_blocks: float = 2.0, far_blocks: float = 1.0) -> None:
        self.rng = rng
        self.intron_median, self.intron_sigma = intron_median, intron_sigma
        self.intron_min, self.intron_max = intron_min, intron_max
        self.exon_median, self.exons_mean, self.max_exons = exon_median, exons_mean, max_exons
        self.isoform_rate = isoform_rate
        self.decoy_donor_every = decoy_donor_every
        self.decoy_acceptor_every = decoy_acceptor_every
        self.pseudo_exon_every = pseudo_exon_every
        self.long_range, self.orphan_every = long_range, orphan_every
        self.regulated_rate, self.near_blocks, self.far_blocks = regulated_rate, near_blocks, far_blocks

    # -- pieces ---------------------------------------------------------------------------

    def exon_length(self, terminal: bool) -> int:
        if terminal:
            return int(np.clip(self.rng.lognormal(np.log(220), 0.5), 80, 600))
        return int(np.clip(self.rng.lognormal(np.log(self.exon_median), 0.45), 50, 300))

    def intron_length(self) -> int:
        value = self.rng.lognormal(np.log(self.intron_median), self.intron_sigma)
        return int(np.clip(value, self.intron_min, self.intron_max))

    def acceptor_region(self, length: int) -> np.ndarray:
        """The 3' end of an intron: branch point, pyrimidine tract, (Y)NCAG; ``length`` bases."""
        rng = self.rng
        out = _background(rng, length, INTRON_BASES)
        distance = int(rng.integers(20, 51))  # branch-point A to the acceptor's G
        distance = min(distance, length - 2)
        tail = _sample(rng, ACCEPTOR_PWM[:3])  # Y A G
        out[-3:] = tail
        bp_a = length - 1 - distance
        bp_start = bp_a - 3
        if bp_start >= 0:
            out[bp_start:bp_start + 5] = _sample(rng, BRANCH_PWM)
        tract_len = int(rng.integers(10, 22))
        tract_end = length - 4  # position -4 is N
        tract_start = max(bp_start + 5, tract_end - tract_len)
        if tract_end > tract_start:
            out[tract_start:tract_end] = _background(rng, tract_end - tract_start, PYRIMIDINE_TRACT)
        zone = out[max(bp_start + 5, 0):length - 2]  # up to the Y: no AG may end at it either
        _remove_ag(zone)
        if bp_start < 0:  # no room for a branch point: keep the tract and the AG exclusion anyway
            _remove_ag(out[:length - 2])
        return out

    def decoys(self, seq: np.ndarray, lo: int, hi: int, with_pseudo_exons: bool) -> None:
        """Plant decoy donors, decoy acceptors and (in introns) pseudo-exons into ``seq[lo:hi]``."""
        rng = self.rng
        span = hi - lo
        if span <= 40:
            return
        for _ in range(rng.poisson(span / self.decoy_donor_every)):
            _plant(rng, seq, [_sample(rng, DECOY_DONOR_PWM)], lo, hi)
        for _ in range(rng.poisson(span / self.decoy_acceptor_every)):
            # a strong tract and CAG, but no branch point in reach
            motif = np.concatenate([_background(rng, int(rng.integers(12, 20)), PYRIMIDINE_TRACT),
                                    _background(rng, 1, INTRON_BASES), _sample(rng, ACCEPTOR_PWM)])
            _plant(rng, seq, [motif], lo, hi)
        if with_pseudo_exons:
            for _ in range(rng.poisson(span / self.pseudo_exon_every)):
                body_len = int(rng.integers(50, 160))
                body = _background(rng, body_len, EXON_BASES)
                _plant(rng, body, [_motif(s) for s in rng.choice(SILENCERS, size=3)], 3, body_len - 3)
                body[-3:] = _sample(rng, DONOR_PWM[:3])
                body[0] = _sample(rng, ACCEPTOR_PWM[3:])[0]
                pseudo = np.concatenate([self.acceptor_region(60), body, _sample(rng, DONOR_PWM[3:])])
                _plant(rng, seq, [pseudo], lo, hi)

    def exon(self, length: int, *, first: bool, last: bool) -> np.ndarray:
        rng = self.rng
        out = _background(rng, length, EXON_BASES)
        enhancers = [_motif(s) for s in rng.choice(ENHANCERS, size=int(rng.integers(1, 4)))]
        _plant(rng, out, enhancers, 3, length - 3)
        if not first:
            out[0] = _sample(rng, ACCEPTOR_PWM[3:])[0]
        if not last:
            out[-3:] = _sample(rng, DONOR_PWM[:3])
        return out

    def intron(self, length: int) -> np.ndarray:
        rng = self.rng
        out = _background(rng, length, INTRON_BASES)
        out[:6] = _sample(rng, DONOR_PWM[3:])
        tail_len = min(length - 6, 80)
        out[-tail_len:] = self.acceptor_region(tail_len)
        self.decoys(out, 12, length - tail_len - 5, with_pseudo_exons=True)
        return out

    # -- long-range decoys -------------------------------------------------------------------

    def body(self, length: int) -> np.ndarray:
        """An exon-like stretch with 1-3 enhancers, as :meth:`exon` draws internal exons (no site bases)."""
        rng = self.rng
        out = _background(rng, length, EXON_BASES)
        enhancers = [_motif(s) for s in rng.choice(ENHANCERS, size=int(rng.integers(1, 4)))]
        _plant(rng, out, enhancers, 3, length - 3)
        return out

    def pseudo_exon(self) -> tuple[np.ndarray, int, int]:
        """An exon unit drawn as real internal exons and their flanks are: an 80-base acceptor region,
        the body, 6 intronic donor bases; returns it, its acceptor and its donor (unit coordinates)."""
        rng = self.rng
        body_len = self.exon_length(False)
        unit = np.concatenate([self.acceptor_region(80), self.body(body_len), _sample(rng, DONOR_PWM[3:])])
        unit[80] = _sample(rng, ACCEPTOR_PWM[3:])[0]
        unit[80 + body_len - 3:80 + body_len] = _sample(rng, DONOR_PWM[:3])
        return unit, 80, 80 + body_len - 1

    def filler(self, length: int) -> np.ndarray:
        """Intron sequence with the ordinary decoys."""
        out = _background(self.rng, length, INTRON_BASES)
        self.decoys(out, 0, length, with_pseudo_exons=True)
        return out

    def cassette(self, far: bool) -> tuple[np.ndarray, list[tuple[str, int, int, int]]]:
        """A silencer block and the pseudo-exon(s) it silences, padded with intron to the block's reach
        (so no real site can lie in it): one pseudo-exon 250-700 bases after a near block, one or two
        1,200-3,400 bases after a far block (distances from the block's end to the acceptor)."""
        rng = self.rng
        block = _motif(FAR_BLOCK if far else NEAR_BLOCK)
        reach = FAR_REACH if far else NEAR_REACH
        lo, hi = SILENCED_DISTANCES[1 if far else 0]
        pieces, decoys, at = [block], [], len(block)
        kind = "silenced_far" if far else "silenced_near"
        for _ in range(int(rng.integers(1, 3)) if far else 1):
            if lo > hi:
                break
            unit, a, d = self.pseudo_exon()
            gap = int(rng.integers(lo, hi + 1)) - (at - len(block)) - a
            if gap < 20:
                break
            pieces += [self.filler(gap), unit]
            decoys.append((kind, at + gap + a, at + gap + d, 0))
            at += gap + len(unit)
            lo = at - len(block) + 300  # the next one at least 300 bases on
        pieces.append(self.filler(max(0, len(block) + reach + 20 - at)))
        return np.concatenate(pieces), decoys

    def orphans(self, seq: np.ndarray, exons: list[tuple[int, int]], taken: list[tuple[int, int]]
                ) -> list[tuple[str, int, int, int]]:
        """Write orphan acceptors and donors (exon definition fails: no partner within 300 bases) into
        intron stretches of ``seq`` clear of real exons (100 bases) and of ``taken`` spans."""
        rng = self.rng
        n = len(seq)
        free = np.ones(n, dtype=bool)
        for s, e in exons:
            free[max(0, s - 100):min(n, e + 100)] = False
        for s, e in taken:
            free[max(0, s - 30):min(n, e + 30)] = False
        intronic = int(free.sum())
        span = EXON_DEFINITION_SPAN
        width = 80 + span + 6
        decoys: list[tuple[str, int, int, int]] = []
        for kind in ("orphan_acceptor", "orphan_donor"):
            for _ in range(rng.poisson(intronic / self.orphan_every)):
                cs = np.concatenate([[0], np.cumsum(free)])
                starts = np.flatnonzero(cs[width:] - cs[:-width] == width)
                if not len(starts):
                    break
                at = int(rng.choice(starts))
                body_len = self.exon_length(False)
                if kind == "orphan_acceptor":  # acceptor region, body, then intron: no donor within `span`
                    piece = np.concatenate([self.acceptor_region(80), self.body(body_len),
                                            _background(rng, span - body_len + 6, INTRON_BASES)])
                    piece[80] = _sample(rng, ACCEPTOR_PWM[3:])[0]
                    decoys.append((kind, at + 80, -1, -1))
                else:  # intron with no acceptor within `span`, then body and donor
                    piece = np.concatenate([_background(rng, 80 + span - body_len, INTRON_BASES),
                                            self.body(body_len), _sample(rng, DONOR_PWM[3:])])
                    piece[80 + span - 3:80 + span] = _sample(rng, DONOR_PWM[:3])
                    decoys.append((kind, -1, at + 80 + span - 1, -1))
                seq[at:at + width] = piece
                free[max(0, at - 30):at + width + 30] = False
        return decoys

    # -- a gene -----------------------------------------------------------------------------

    def gene(self) -> tuple[np.ndarray, list[tuple[int, int]], list[tuple[str, list[tuple[int, int]]]]]:
        """A gene 5'->3': its codes, its canonical exons and its alternative transcripts' exons."""
        rng = self.rng
        n_exons = int(min(self.max_exons, 2 + rng.poisson(self.exons_mean - 2)))
        pieces: list[np.ndarray] = []
        exons: list[tuple[int, int]] = []
        regulated = self.long_range and bool(rng.random() < self.regulated_rate)
        hosts = np.zeros((max(n_exons - 1, 1), 2), dtype=int)  # near and far cassettes per intron
        if regulated:
            for tier, mean in enumerate((self.near_blocks, self.far_blocks)):
                for _ in range(rng.poisson(mean)):
                    hosts[int(rng.integers(len(hosts))), tier] += 1
        decoys: list[tuple[str, int, int, int]] = []
        taken: list[tuple[int, int]] = []
        at = 0
        for i in range(n_exons):
            first, last = i == 0, i == n_exons - 1
            exon = self.exon(self.exon_length(first or last), first=first, last=last)
            pieces.append(exon)
            exons.append((at, at + len(exon)))
            at += len(exon)
            if not last:
                intron = self.intron(self.intron_length())
                tiers = [True] * hosts[i, 1] + [False] * hosts[i, 0]
                for far in rng.permutation(np.array(tiers, dtype=bool)) if tiers else []:
                    # inserted 30 bases or more after the donor and 100 or more before the acceptor region
                    # (in short introns: anywhere before the acceptor region, 6 or more after the donor)
                    lo = min(30, len(intron) - 86)
                    cut = int(rng.integers(lo, max(lo + 1, len(intron) - 180)))
                    for x, y in taken:  # never inside an earlier cassette: right after it instead
                        if x <= at + cut < y:
                            cut = y - at
                    cassette, inner = self.cassette(bool(far))
                    decoys = [(k, a + len(cassette) * (a >= at + cut), d + len(cassette) * (d >= at + cut),
                               b + len(cassette) * (b >= at + cut)) for k, a, d, b in decoys]
                    taken = [(x + len(cassette) * (x >= at + cut), y + len(cassette) * (x >= at + cut))
                             for x, y in taken]
                    decoys += [(k, at + cut + a, at + cut + d, at + cut + b) for k, a, d, b in inner]
                    taken += [(at + cut, at + cut + len(cassette))]
                    intron = np.concatenate([intron[:cut], cassette, intron[cut:]])
                pieces.append(intron)
                at += len(intron)
        seq = np.concatenate(pieces)
        if self.long_range:
            decoys += self.orphans(seq, exons, taken)
        self.last_decoys, self.last_regulated = sorted(decoys, key=lambda x: max(x[1], x[2])), regulated
        alternatives: list[tuple[str, list[tuple[int, int]]]] = []
        if rng.random() < self.isoform_rate:
            for kind in rng.choice(["skip", "alt5", "alt3"], size=int(rng.integers(1, 3)), replace=False):
                alt = self.alternative(seq, exons, str(kind))
                if alt is not None:
                    alternatives.append((str(kind), alt))
        return seq, exons, alternatives

    def alternative(self, seq: np.ndarray, exons: list[tuple[int, int]], kind: str) -> list[tuple[int, int]] | None:
        """An alternative transcript; alt 5'/3' sites are written into ``seq`` inside an exon."""
        rng = self.rng
        n = len(exons)
        if kind == "skip":
            if n < 3:
                return None
            drop = int(rng.integers(1, n - 1))
            return exons[:drop] + exons[drop + 1:]
        if kind == "alt5":  # a donor inside exon i, 20-60 bases before its end
            candidates = [i for i in range(n - 1) if exons[i][1] - exons[i][0] >= 60]
            if not candidates:
                return None
            i = int(rng.choice(candidates))
            s, e = exons[i]
            new_end = e - int(rng.integers(20, min(60, e - s - 30) + 1))
            seq[new_end - 3:new_end + 6] = _sample(rng, DONOR_PWM)
            return exons[:i] + [(s, new_end)] + exons[i + 1:]
        if kind == "alt3":  # an acceptor inside exon i, 12-40 bases after its start
            candidates = [i for i in range(1, n) if exons[i][1] - exons[i][0] >= 60]
            if not candidates:
                return None
            i = int(rng.choice(candidates))
            s, e = exons[i]
            new_start = s + int(rng.integers(12, min(40, e - s - 30) + 1))
            seq[new_start - 9:new_start - 3] = _background(rng, 6, PYRIMIDINE_TRACT)
            seq[new_start - 3:new_start + 1] = _sample(rng, ACCEPTOR_PWM)
            return exons[:i] + [(new_start, e)] + exons[i + 1:]
        raise ValueError(kind)

    def intergenic(self, length: int) -> np.ndarray:
        out = _background(self.rng, length, INTERGENIC_BASES)
        self.decoys(out, 0, length, with_pseudo_exons=False)
        return out


def simulate(*, seed: int = 0, chromosomes: int = 20, genes_per_chromosome: int = 15,
             intergenic_median: float = 2000.0, **gene_options: Any) -> tuple[dict[str, np.ndarray], list[SimulatedGene]]:
    """Chromosome codes by name and the genes on them; deterministic for a given seed and settings."""
    rng = np.random.default_rng(seed)
    sim = GeneSimulator(rng, **gene_options)
    genome: dict[str, np.ndarray] = {}
    genes: list[SimulatedGene] = []
    for c in range(1, chromosomes + 1):
        chrom = f"chr{c}"
        pieces: list[np.ndarray] = []
        at = 0
        for _ in range(genes_per_chromosome):
            gap = sim.intergenic(int(np.clip(rng.lognormal(np.log(intergenic_median), 0.5), 500, 20_000)))
            pieces.append(gap)
            at += len(gap)
            seq, exons, alternatives = sim.gene()
            strand = "+" if rng.random() < 0.5 else "-"
            index = len(genes) + 1
            gene_id = f"SIMG{index:05d}"
            transcripts = [SimulatedTranscript(f"SIMT{index:05d}.1", exons, True, "canonical")]
            for k, (kind, alt) in enumerate(alternatives, start=2):
                transcripts.append(SimulatedTranscript(f"SIMT{index:05d}.{k}", alt, False, kind))
            genes.append(SimulatedGene(gene_id, f"SIM{index}", chrom, strand, at, seq, transcripts,
                                       list(sim.last_decoys), sim.last_regulated))
            pieces.append(seq if strand == "+" else reverse_complement(seq))
            at += len(seq)
        pieces.append(sim.intergenic(int(np.clip(rng.lognormal(np.log(intergenic_median), 0.5), 500, 20_000))))
        genome[chrom] = np.concatenate(pieces)
    return genome, genes


def write_gtf(path: str | os.PathLike, genes: list[SimulatedGene], source: str = "sciarch_sim") -> Path:
    """GENCODE-style GTF of simulated genes (gene, transcript and exon lines), atomically."""
    path = Path(path)

    def attrs(pairs: list[tuple[str, str]]) -> str:
        return " ".join(f'{k} "{v}";' for k, v in pairs)

    with sciarch.atomic_write(path, "w", encoding="ascii") as out:
        out.write(f"##description: simulated genes (sciarch gene simulator v{SIMULATOR_VERSION})\n")
        for gene in genes:
            base = [("gene_id", gene.id), ("gene_type", "protein_coding"), ("gene_name", gene.name)]
            spans = [gene.genome_exons(t) for t in gene.transcripts]
            g_start = min(e[0][0] for e in spans)
            g_end = max(e[-1][1] for e in spans)
            out.write(f"{gene.chrom}\t{source}\tgene\t{g_start + 1}\t{g_end}\t.\t{gene.strand}\t.\t{attrs(base)}\n")
            for transcript, exons in zip(gene.transcripts, spans, strict=True):
                tags = [("tag", "basic")] + ([("tag", "Ensembl_canonical")] if transcript.canonical else [])
                t_attrs = base + [("transcript_id", transcript.id), ("transcript_type", "protein_coding"),
                                  ("transcript_kind", transcript.kind)] + tags
                out.write(f"{gene.chrom}\t{source}\ttranscript\t{exons[0][0] + 1}\t{exons[-1][1]}\t.\t"
                          f"{gene.strand}\t.\t{attrs(t_attrs)}\n")
                ordered = exons if gene.strand == "+" else exons[::-1]
                for number, (s, e) in enumerate(ordered, start=1):
                    e_attrs = t_attrs + [("exon_number", str(number))]
                    out.write(f"{gene.chrom}\t{source}\texon\t{s + 1}\t{e}\t.\t{gene.strand}\t.\t{attrs(e_attrs)}\n")
    return path


def write_simulation(out: str | os.PathLike, *, seed: int = 0, chromosomes: int = 20, genes_per_chromosome: int = 15,
                     **options: Any) -> tuple[Path, Path]:
    """Simulate and write ``genome.fa`` and ``genes.gtf`` into the folder ``out`` (atomically)."""
    genome, genes = simulate(seed=seed, chromosomes=chromosomes, genes_per_chromosome=genes_per_chromosome,
                             **options)
    out = Path(out)
    with sciarch.atomic_dir(out) as tmp:
        write_fasta(tmp / "genome.fa", ((name, decode(codes)) for name, codes in genome.items()))
        write_gtf(tmp / "genes.gtf", genes)
    return out / "genome.fa", out / "genes.gtf"


def simulated_genome(*, seed: int = 0, chromosomes: int = 20, genes_per_chromosome: int = 15,
                     **options: Any) -> tuple[Path, Path]:
    """The simulated ``(genome.fa, genes.gtf)`` for these settings, made once into the cache."""
    import hashlib

    # the simulator's own source is part of the key: a change of its code or defaults makes a new genome
    source = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    settings = {"version": SIMULATOR_VERSION, "source": source, "seed": seed, "chromosomes": chromosomes,
                "genes_per_chromosome": genes_per_chromosome, **options}
    folder = sciarch.cache_dir("genomics", "simulated") / sciarch.content_key(settings)
    fasta, gtf = folder / "genome.fa", folder / "genes.gtf"
    if not (fasta.is_file() and gtf.is_file()):
        write_simulation(folder, seed=seed, chromosomes=chromosomes, genes_per_chromosome=genes_per_chromosome,
                         **options)
    return fasta, gtf
