"""Readers of real formats: FASTA (plain, bgzip, gzip), GTF/GFF3 errors and tags, GenBank joins."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import sciarch
from sciarch_datasets.genomics import (
    decode,
    label_gene,
    open_reference,
    read_annotation,
    read_genbank,
    read_gff3,
    read_gtf,
)
from sciarch_datasets.genomics.annotation import Gene, Transcript, detect_format, gtf_attributes


def test_bgzip_and_gzip_fasta_read_like_plain(tmp_path, hand_genome, genome_text):
    fasta, _, _ = hand_genome
    from Bio import bgzf

    bgz = tmp_path / "genome.bgz.fa.gz"
    with bgzf.BgzfWriter(str(bgz), "wb") as out:
        out.write(fasta.read_bytes())
    gz = tmp_path / "genome.plain.fa.gz"
    gz.write_bytes(gzip.compress(fasta.read_bytes()))
    for path in (bgz, gz):
        with open_reference(path) as ref:
            assert ref.contigs == {"chrT": 80}
            assert decode(ref.fetch("chrT", 10, 40)) == genome_text[10:40]


def test_fasta_errors_name_the_file(tmp_path):
    with pytest.raises(sciarch.DataError, match="no such FASTA"):
        open_reference(tmp_path / "missing.fa")
    bad = tmp_path / "bad.fa"
    bad.write_text(">a\nACGT\nAC\nACGT\n")  # a short line inside a record: cannot be indexed
    with pytest.raises(sciarch.DataError, match="bad.fa"):
        open_reference(bad)


def test_malformed_gtf_lines_are_skipped_and_reported_with_line_numbers(tmp_path, hand_genome):
    _, gtf, _ = hand_genome
    lines = gtf.read_text().splitlines(keepends=True)
    lines.insert(3, "chrT\ttest\texon\tten\t20\t.\t+\t.\tgene_id \"PLUS\"; transcript_id \"PLUS.1\";\n")  # line 4
    lines.insert(5, "chrT\ttest\texon\t30\t20\n")  # line 6: five columns
    lines.insert(7, "chrT\ttest\texon\t50\t40\t.\t+\t.\tgene_id \"X\"; transcript_id \"X.1\";\n")  # line 8
    lines.insert(8, "chrT\ttest\texon\t50\t60\t.\t?\t.\tgene_id \"X\"; transcript_id \"X.1\";\n")  # line 9
    lines.insert(9, "chrT\ttest\texon\t50\t60\t.\t+\t.\ttranscript_id \"X.1\";\n")  # line 10: no gene_id
    bad = tmp_path / "bad.gtf"
    bad.write_text("".join(lines))
    report = sciarch.BadRecords(source=str(bad))
    genes = {g.id: g for _, gs in read_gtf(bad, report) for g in gs}
    assert sorted(genes) == ["MINUS", "PLUS"]
    assert len(genes["PLUS"].canonical().exons) == 3  # the good lines of PLUS still make its transcript
    assert report.count == 5
    assert [r.record for r in report.records] == ["line 4", "line 6", "line 8", "line 9", "line 10"]
    assert "not whole numbers" in report.records[0].reason
    assert "found 5" in report.records[1].reason
    assert "before start" in report.records[2].reason
    with pytest.raises(sciarch.DataError, match="line 4"):
        list(read_gtf(bad, sciarch.BadRecords(source=str(bad), strict=True)))


def test_overlapping_exons_and_unsorted_input_are_reported(tmp_path):
    text = (
        'c1\tt\texon\t1\t50\t.\t+\t.\tgene_id "A"; transcript_id "A.1";\n'
        'c1\tt\texon\t40\t90\t.\t+\t.\tgene_id "A"; transcript_id "A.1";\n'
        'c1\tt\texon\t100\t150\t.\t+\t.\tgene_id "B"; transcript_id "B.1";\n'
        'c2\tt\texon\t1\t50\t.\t+\t.\tgene_id "C"; transcript_id "C.1";\n'
        'c1\tt\texon\t300\t350\t.\t+\t.\tgene_id "B"; transcript_id "B.1";\n'
    )
    path = tmp_path / "a.gtf"
    path.write_text(text)
    report = sciarch.BadRecords(source=str(path))
    out = list(read_gtf(path, report))
    assert [c for c, _ in out] == ["c1", "c2"]
    assert [g.id for g in out[0][1]] == ["B"]
    assert report.reasons["overlapping exons"] == 1 and report.reasons["unsorted annotation"] == 1
    assert report.records[-1].record == "line 5"


def test_canonical_transcript_by_tag_then_mane_then_longest():
    def t(tid, exons, tags=()):
        return Transcript(tid, "G", "c", "+", tuple(exons), frozenset(tags))

    long = t("T1", [(0, 100), (200, 400)])
    short = t("T2", [(0, 50), (200, 250)])
    gene = Gene("G", "c", "+", [long, short])
    assert gene.canonical().id == "T1"
    gene.transcripts = [long, t("T2", [(0, 50), (200, 250)], ["mane_select"])]
    assert gene.canonical().id == "T2"
    gene.transcripts.append(t("T3", [(0, 10), (200, 210)], ["ensembl_canonical"]))
    assert gene.canonical().id == "T3"


def test_gtf_and_gff3_tags_are_read():
    attrs = gtf_attributes('gene_id "G"; transcript_id "T"; tag "basic"; tag "Ensembl_canonical"; level 2;')
    assert attrs["tag"] == ["basic", "Ensembl_canonical"] and attrs["level"] == ["2"]


def test_refseq_style_gff3_mane_tag_with_space(tmp_path):
    text = (
        "##gff-version 3\n"
        "NC_1\tRefSeq\tgene\t1\t400\t.\t-\t.\tID=gene-ABC;Name=ABC;gene_biotype=protein_coding\n"
        "NC_1\tRefSeq\tmRNA\t1\t400\t.\t-\t.\tID=rna-NM_1;Parent=gene-ABC;tag=MANE Select\n"
        "NC_1\tRefSeq\texon\t1\t100\t.\t-\t.\tParent=rna-NM_1\n"
        "NC_1\tRefSeq\texon\t300\t400\t.\t-\t.\tParent=rna-NM_1\n"
        "NC_1\tRefSeq\tmRNA\t1\t400\t.\t-\t.\tID=rna-NM_2;Parent=gene-ABC\n"
        "NC_1\tRefSeq\texon\t1\t150\t.\t-\t.\tParent=rna-NM_2\n"
        "NC_1\tRefSeq\texon\t300\t400\t.\t-\t.\tParent=rna-NM_2\n"
        "NC_1\tRefSeq\texon\t500\t600\t.\t-\t.\tParent=rna-NM_missing\n"
    )
    path = tmp_path / "refseq.gff"
    path.write_text(text)
    report = sciarch.BadRecords(source=str(path))
    (contig, genes), = read_gff3(path, report)
    gene = genes[0]
    assert contig == "NC_1" and gene.name == "ABC" and gene.biotype == "protein_coding"
    assert gene.canonical().id == "rna-NM_1"  # MANE beats the longer NM_2
    assert report.reasons["undefined parent"] == 1 and report.records[0].record == "line 9"  # the header is line 1


GENBANK = """\
LOCUS       TESTSEQ                   80 bp    DNA     linear   SYN 01-JAN-2024
DEFINITION  test.
ACCESSION   TESTSEQ
VERSION     TESTSEQ.1
FEATURES             Location/Qualifiers
     gene            5..45
                     /gene="PlusGene"
     mRNA            join(5..10,21..30,41..45)
                     /gene="PlusGene"
                     /transcript_id="NM_PLUS.1"
     gene            complement(48..66)
                     /gene="MinusGene"
     CDS             complement(join(48..52,60..66))
                     /gene="MinusGene"
                     /protein_id="NP_MINUS.1"
ORIGIN
{origin}//
"""


def test_genbank_joins_give_the_same_labels_as_gtf(tmp_path, hand_genome, genome_text):
    fasta, gtf, _ = hand_genome
    origin = "".join(f"{i + 1:>9} {genome_text[i:i + 60].lower()}\n" for i in range(0, 80, 60))
    gb = tmp_path / "test.gbk"
    gb.write_text(GENBANK.format(origin=origin))
    assert detect_format(gb) == "genbank"
    reference, by_contig = read_genbank(gb)
    genes = {g.name: g for g in by_contig["TESTSEQ.1"]}
    assert genes["PlusGene"].canonical().id == "NM_PLUS.1"
    assert genes["MinusGene"].strand == "-"
    from_gtf = {g.name: g for _, gs in read_annotation(gtf) for g in gs}
    with open_reference(fasta) as ref:
        for name in ("PlusGene", "MinusGene"):
            a = label_gene(from_gtf[name], ref, block_length=25, context=10)
            b = label_gene(genes[name], reference, block_length=25, context=10)
            assert np.array_equal(a.labels, b.labels) and np.array_equal(a.sequence, b.sequence)


def test_genbank_prepares_without_a_fasta(tmp_path, genome_text):
    from sciarch_datasets.genomics import SpliceShards, prepare_splice_sites

    origin = "".join(f"{i + 1:>9} {genome_text[i:i + 60].lower()}\n" for i in range(0, 80, 60))
    gb = tmp_path / "test.gb"
    gb.write_text(GENBANK.format(origin=origin))
    shards = SpliceShards(prepare_splice_sites(gb, tmp_path / "prep", block_length=16, context=8, progress=False))
    assert shards.manifest["annotation_format"] == "genbank" and shards.manifest["fasta"] is None
    assert shards.manifest["stats"]["genes"] == 2 and shards.manifest["stats"]["donors"] == 3
