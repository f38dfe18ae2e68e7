"""Preparation into memory-mapped shards, and the gene simulator."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import sciarch
from sciarch_datasets.genomics import (
    ACCEPTOR,
    DONOR,
    SpliceShards,
    decode,
    label_gene,
    open_reference,
    prepare_splice_sites,
    read_gtf,
)
from sciarch_datasets.genomics.simulate import simulate, write_simulation


def test_prepared_windows_equal_label_gene_blocks(tmp_path, hand_genome):
    fasta, gtf, _ = hand_genome
    out = prepare_splice_sites(gtf, tmp_path / "prep", fasta=fasta, block_length=16, context=8, progress=False)
    shards = SpliceShards(out)
    assert [s.name for s in shards.shards] == ["chrT"]
    assert shards.manifest["stats"]["genes"] == 2 and shards.manifest["stats"]["donors"] == 3
    blocks = list(shards.iter_blocks())
    genes = {g.id: g for _, gs in read_gtf(gtf) for g in gs}
    with open_reference(fasta) as ref:
        expected = []
        for gene_id in ("PLUS", "MINUS"):
            lab = label_gene(genes[gene_id], ref, block_length=16, context=8)
            expected += [lab.block(k) for k in range(lab.n_blocks)]
    assert len(blocks) == len(expected) == 3 + 2
    for (shard, start, _), (x, y) in zip(blocks, expected, strict=True):
        got_x, got_y = shards.window(shard, start)
        assert np.array_equal(got_x, x) and np.array_equal(got_y, y)
    # nothing but the finished folder is left behind
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".", "prep"))) == ["prep"]


def test_missing_contigs_are_skipped_and_counted(tmp_path, hand_genome):
    fasta, gtf, _ = hand_genome
    text = gtf.read_text() + (
        'chrZ\ttest\texon\t1\t10\t.\t+\t.\tgene_id "Z"; transcript_id "Z.1";\n'
        'chrZ\ttest\texon\t20\t30\t.\t+\t.\tgene_id "Z"; transcript_id "Z.1";\n'
        'chrZ\ttest\texon\t20\t40\t.\t+\t.\tgene_id "Z"; transcript_id "Z.2";\n')
    path = tmp_path / "more.gtf"
    path.write_text(text)
    out = prepare_splice_sites(path, tmp_path / "prep", fasta=fasta, block_length=16, context=8, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stats"]["transcripts_on_missing_contigs"] == 2
    assert manifest["bad_records"]["reasons"] == {"contig not in FASTA": 1}
    assert manifest["stats"]["genes"] == 2


def test_nothing_to_label_is_an_error_naming_the_file(tmp_path, hand_genome):
    fasta, _, _ = hand_genome
    path = tmp_path / "single.gtf"
    path.write_text('chrT\tt\texon\t1\t10\t.\t+\t.\tgene_id "S"; transcript_id "S.1";\n')
    with pytest.raises(sciarch.DataError, match="single.gtf.*no gene with an intron"):
        prepare_splice_sites(path, tmp_path / "prep", fasta=fasta, progress=False)
    assert not (tmp_path / "prep").exists()


def test_simulator_is_deterministic_per_seed():
    a, genes_a = simulate(seed=3, chromosomes=2, genes_per_chromosome=3)
    b, genes_b = simulate(seed=3, chromosomes=2, genes_per_chromosome=3)
    c, _ = simulate(seed=4, chromosomes=2, genes_per_chromosome=3)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert [g.transcripts[0].exons for g in genes_a] == [g.transcripts[0].exons for g in genes_b]
    assert not np.array_equal(a["chr1"][:5000], c["chr1"][:5000])


def test_simulated_genes_follow_the_splicing_grammar(tmp_path):
    fasta, gtf = write_simulation(tmp_path / "sim", seed=0, chromosomes=4, genes_per_chromosome=8)
    report = sciarch.BadRecords(source=str(gtf))
    genes = [g for _, gs in read_gtf(gtf, report) for g in gs]
    assert report.count == 0 and len(genes) == 32
    assert {g.strand for g in genes} == {"+", "-"}
    assert any(len(g.transcripts) > 1 for g in genes)  # alternative isoforms
    introns, exons = [], []
    donors, acceptors, tract, no_ag = Counter(), Counter(), [], 0
    with open_reference(fasta) as ref:
        for gene in genes:
            lab = label_gene(gene, ref, block_length=100_000, context=0)
            seq = decode(lab.sequence)
            t = gene.canonical()
            introns += [e - s for s, e in t.introns]
            exons += [e - s for s, e in t.exons[1:-1]]
            for d in np.flatnonzero(lab.labels == DONOR):
                donors[seq[d - 2:d + 7]] += 1  # -3..+6 around the donor: MAG|GURAGU
            for a in np.flatnonzero(lab.labels == ACCEPTOR):
                acceptors[seq[a - 2:a]] += 1
                tract.append(sum(c in "CT" for c in seq[a - 15:a - 3]) / 12)
                no_ag += "AG" not in seq[a - 19:a - 2]  # the AG exclusion zone after the branch point
    assert set(k[3:5] for k in donors) == {"GT"}
    assert set(acceptors) == {"AG"}
    assert min(exons) >= 50 and max(exons) <= 300
    assert min(introns) >= 100 and max(introns) > 3000  # long-tailed
    consensus = sum(n for k, n in donors.items() if k[2] == "G" and k[5] in "AG" and k[7] == "G")
    assert 0.3 < consensus / sum(donors.values()) < 0.95  # mostly, not always, the consensus
    assert no_ag == sum(acceptors.values())
    assert np.mean(tract) > 0.75  # a polypyrimidine tract (introns are about 53% pyrimidines)
    # decoys: far more GT dinucleotides in the genome than true donors
    text = decode(ref_codes := open_reference(fasta).fetch("chr1", 0, 200_000))
    assert text.count("GT") > 50 * sum(1 for g in genes if g.chrom == "chr1") and len(ref_codes) > 0


def test_long_range_decoys_follow_their_rules():
    """Simulator v3: orphan sites lack a partner within 300 nt, silenced pseudo-exons lie at their tier's
    distance after a silencer block, no real site lies within a block's reach downstream of it, and the
    decoys' own sites carry the same local consensus as real ones."""
    from sciarch_datasets.genomics.simulate import (
        DONOR_PWM,
        EXON_DEFINITION_SPAN,
        FAR_BLOCK,
        FAR_REACH,
        INTRON_BASES,
        NEAR_BLOCK,
        NEAR_REACH,
        SILENCED_DISTANCES,
    )

    _, genes = simulate(seed=2, chromosomes=3, genes_per_chromosome=8)
    kinds = Counter(k for g in genes for k, *_ in g.decoys)
    assert set(kinds) == {"orphan_acceptor", "orphan_donor", "silenced_near", "silenced_far"}
    assert any(g.regulated for g in genes) and not all(g.regulated for g in genes)
    log_odds = np.log((DONOR_PWM + 1e-3) / INTRON_BASES)
    score = {"real": [], "decoy": []}

    def donor_score(seq: np.ndarray, d: int) -> float:
        return float(log_odds[np.arange(9), seq[d - 2:d + 7]].sum())

    for gene in genes:
        seq, text = gene.sequence, decode(gene.sequence)
        exons = gene.transcripts[0].exons
        real_acceptors = [s for s, _ in exons[1:]]
        real_donors = [e - 1 for _, e in exons[:-1]]
        blocks = [(i + len(b), reach) for b, reach in ((NEAR_BLOCK, NEAR_REACH), (FAR_BLOCK, FAR_REACH))
                  for i in range(len(text)) if text.startswith(b, i)]
        for end, reach in blocks:  # no real site within a block's reach downstream
            assert all(not 0 <= x - end <= reach for x in real_acceptors + real_donors), gene.id
        for kind, a, d, b in gene.decoys:
            if a >= 0:
                assert text[a - 2:a] == "AG" and "AG" not in text[a - 19:a - 2], (gene.id, kind)
            if d >= 0:
                assert text[d + 1:d + 3] == "GT", (gene.id, kind)
                score["decoy"].append(donor_score(seq, d))
            if kind == "orphan_acceptor":  # no donor of a real exon within the span
                assert all(not 0 < x - a <= EXON_DEFINITION_SPAN for x in real_donors)
            elif kind == "orphan_donor":
                assert all(not 0 < d - x <= EXON_DEFINITION_SPAN for x in real_acceptors)
            else:
                block, reach = (NEAR_BLOCK, NEAR_REACH) if kind == "silenced_near" else (FAR_BLOCK, FAR_REACH)
                near, far = SILENCED_DISTANCES[0 if kind == "silenced_near" else 1]
                assert text.startswith(block, b), (gene.id, kind)
                assert near <= a - (b + len(block)) <= far and d - (b + len(block)) <= reach, (gene.id, kind)
        score["real"] += [donor_score(seq, d) for d in real_donors]
    # the same donor matrix: mean log-odds of decoy and real donors agree (no local tell)
    assert abs(np.mean(score["real"]) - np.mean(score["decoy"])) < 0.5
    plain, plain_genes = simulate(seed=2, chromosomes=1, genes_per_chromosome=3, long_range=False)
    assert all(not g.decoys for g in plain_genes) and NEAR_BLOCK not in decode(plain["chr1"])
