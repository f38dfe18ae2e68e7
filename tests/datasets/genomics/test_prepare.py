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
