"""Labels and windows against hand-checked genes on both strands (see conftest for the genome)."""

from __future__ import annotations

import numpy as np
import pytest
from sciarch_datasets.genomics import (
    ACCEPTOR,
    DONOR,
    NONE,
    PADDING,
    decode,
    label_gene,
    open_reference,
    read_gff3,
    read_gtf,
    reverse_complement,
    split_of,
)
from sciarch_datasets.genomics.sequence import encode


def _genes(path, reader=read_gtf):
    return {g.id.split(":")[-1]: g for _, genes in reader(path) for g in genes}


def test_plus_strand_sites_are_the_hand_checked_positions(hand_genome):
    fasta, gtf, _ = hand_genome
    gene = _genes(gtf)["PLUS"]
    t = gene.canonical()
    # 1-based donors 10, 30 and acceptors 21, 41 -> 0-based 9, 29 and 20, 40
    assert t.donors == [9, 29]
    assert t.acceptors == [20, 40]
    with open_reference(fasta) as ref:
        lab = label_gene(gene, ref, block_length=20, context=4)
    # transcript positions: donor 9-4=5, 29-4=25; acceptor 20-4=16, 40-4=36; gene is 41 bases -> 3 blocks
    assert lab.n_blocks == 3 and len(lab.sequence) == 3 * 20 + 4
    body = lab.labels[2:2 + 41]
    assert np.flatnonzero(body == DONOR).tolist() == [5, 25]
    assert np.flatnonzero(body == ACCEPTOR).tolist() == [16, 36]
    assert (lab.labels[:2] == PADDING).all() and (lab.labels[43:] == PADDING).all()
    # the intron after each donor starts with GT, the base before each acceptor's exon is AG
    seq = decode(lab.sequence)
    for d in (5, 25):
        assert seq[2 + d + 1:2 + d + 3] == "GT"
    for a in (16, 36):
        assert seq[2 + a - 2:2 + a] == "AG"


def test_minus_strand_gene_is_reverse_complemented_and_sites_swap_ends(hand_genome, genome_text):
    GENOME = genome_text
    fasta, gtf, _ = hand_genome
    gene = _genes(gtf)["MINUS"]
    t = gene.canonical()
    assert t.donors == [59]      # 1-based 60: the first exon (60-66) ends there, read right to left
    assert t.acceptors == [51]   # 1-based 52: the second exon (48-52) starts there
    with open_reference(fasta) as ref:
        lab = label_gene(gene, ref, block_length=10, context=6)
    # span 48-66 (19 bases); transcript position of genome g (0-based) is 65 - g
    assert lab.n_blocks == 2
    body = lab.labels[3:3 + 19]
    assert np.flatnonzero(body == DONOR).tolist() == [6]
    assert np.flatnonzero(body == ACCEPTOR).tolist() == [14]
    assert (body[(body != DONOR) & (body != ACCEPTOR)] == NONE).all()
    seq = decode(lab.sequence)
    assert seq[3:3 + 19] == decode(reverse_complement(encode(GENOME[47:66])))
    assert seq[3 + 6 + 1:3 + 6 + 3] == "GT"   # intron opens with GT on the minus strand
    assert seq[3 + 14 - 2:3 + 14] == "AG"     # and closes with AG


def test_windows_are_blocks_with_half_context_each_side_padded_with_n(hand_genome, genome_text):
    GENOME = genome_text
    fasta, gtf, _ = hand_genome
    gene = _genes(gtf)["PLUS"]
    with open_reference(fasta) as ref:
        lab = label_gene(gene, ref, block_length=20, context=4)
        genomic = label_gene(gene, ref, block_length=20, context=4, flank="genome")
    x0, y0 = lab.block(0)
    assert len(x0) == 24 and len(y0) == 20
    assert decode(x0) == "NN" + GENOME[4:26]
    x2, y2 = lab.block(2)
    # last block: 1 gene base left (transcript position 40), the rest padding
    assert decode(x2) == GENOME[42:45] + "N" * 21
    assert y2[0] == NONE and (y2[1:] == PADDING).all()
    # flank="genome" reads real bases around the gene instead of N
    gx0, gy0 = genomic.block(0)
    assert decode(gx0) == GENOME[2:26]
    assert (gy0 == y0).all()
    gx2, _ = genomic.block(2)
    assert decode(gx2) == GENOME[42:66]


def test_iupac_codes_become_n_and_one_hot_is_zero(hand_genome, genome_text):
    GENOME = genome_text
    fasta, _, _ = hand_genome
    from sciarch_datasets.genomics import one_hot

    with open_reference(fasta) as ref:
        codes = ref.fetch("chrT", 68, 72)
        assert decode(codes) == GENOME[68] + "N" + GENOME[70:72].replace("R", "N")
        assert one_hot(codes)[1].tolist() == [0, 0, 0, 0]
        # past either end of the contig: N
        assert decode(ref.fetch("chrT", -2, 1)) == "NN" + GENOME[0]
        assert decode(ref.fetch("T", 78, 82)) == GENOME[78:80] + "NN"  # found without its chr prefix


def test_gff3_gives_the_same_labels_as_gtf(hand_genome):
    fasta, gtf, gff = hand_genome
    from_gtf, from_gff = _genes(gtf), _genes(gff, read_gff3)
    assert set(from_gff) == {"PLUS", "MINUS"}
    with open_reference(fasta) as ref:
        for name in ("PLUS", "MINUS"):
            a = label_gene(from_gtf[name], ref, block_length=16, context=8)
            b = label_gene(from_gff[name], ref, block_length=16, context=8)
            assert (a.labels == b.labels).all() and (a.sequence == b.sequence).all()
    assert from_gff["PLUS"].name == "PlusGene"


def test_all_isoforms_label_the_union_of_sites(tmp_path, hand_genome):
    fasta, gtf, _ = hand_genome
    # a second PLUS transcript that skips the middle exon: its sites are donor 10, acceptor 41
    extra = 'chrT\ttest\texon\t5\t10\t.\t+\t.\tgene_id "PLUS"; transcript_id "PLUS.2";\n' \
            'chrT\ttest\texon\t41\t45\t.\t+\t.\tgene_id "PLUS"; transcript_id "PLUS.2";\n'
    text = gtf.read_text().splitlines(keepends=True)
    gtf2 = tmp_path / "iso.gtf"
    gtf2.write_text("".join(text[:6]) + extra + "".join(text[6:]))
    gene = _genes(gtf2)["PLUS"]
    assert len(gene.transcripts) == 2 and gene.canonical().id == "PLUS.1"  # longest wins untagged
    with open_reference(fasta) as ref:
        canonical = label_gene(gene, ref, block_length=50, context=2)
        union = label_gene(gene, ref, block_length=50, context=2, isoforms="all")
    assert (canonical.labels == union.labels).all()  # the skipping isoform's sites are a subset here


def test_split_follows_spliceai_test_chromosomes_and_is_stable():
    assert split_of("chr1", "G1") == "test" and split_of("3", "G1") == "test"
    assert split_of("chr2", "G1", val_chromosomes=["chr2"]) == "val"
    assert split_of("chr2", "G1", test_chromosomes=["chr2"]) == "test"
    held = [split_of("chr2", f"G{i}") for i in range(2000)]
    assert 0.07 < held.count("val") / 2000 < 0.13  # about 10% of training genes held out for validation
    assert held == [split_of("chr2", f"G{i}") for i in range(2000)]


@pytest.mark.parametrize("context", [3, -2])
def test_odd_context_is_refused(hand_genome, context):
    fasta, gtf, _ = hand_genome
    with open_reference(fasta) as ref, pytest.raises(ValueError):
        label_gene(_genes(gtf)["PLUS"], ref, block_length=10, context=context)
