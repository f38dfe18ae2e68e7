"""predict and score-variants against a motif model whose every score is known (see conftest)."""

from __future__ import annotations

import numpy as np
import pytest
import sciarch
from sciarch_datasets.genomics.reference import SequenceDict
from sciarch_datasets.genomics.sequence import reverse_complement_text
from sciarch_splice.predict import parse_region, predict_to_file, score_region
from sciarch_splice.variants import score_vcf

# 1-based positions on chrV (60 bases). A plus gene spans 5-30, a minus gene 35-58.
#   plus gene: "GT" at 15-16 makes base 14 a donor; "AG" at 20-21 makes base 22 an acceptor
#   minus gene: "AC" at 45-46 reads GT on the minus strand, so base 47 is a minus-strand donor
SEQ = list("C" * 60)
for pos, base in ((15, "G"), (16, "T"), (20, "A"), (21, "G"), (45, "A"), (46, "C")):
    SEQ[pos - 1] = base
CHRV = "".join(SEQ)
GTF = ('chrV\tt\texon\t5\t14\t.\t+\t.\tgene_id "P"; gene_name "PLUSG"; transcript_id "P.1";\n'
       'chrV\tt\texon\t22\t30\t.\t+\t.\tgene_id "P"; gene_name "PLUSG"; transcript_id "P.1";\n'
       'chrV\tt\texon\t35\t40\t.\t-\t.\tgene_id "M"; gene_name "MINUSG"; transcript_id "M.1";\n'
       'chrV\tt\texon\t47\t58\t.\t-\t.\tgene_id "M"; gene_name "MINUSG"; transcript_id "M.1";\n')


@pytest.fixture
def small_genome(tmp_path):
    fasta = tmp_path / "v.fa"
    fasta.write_text(f">chrV\n{CHRV}\n")
    gtf = tmp_path / "v.gtf"
    gtf.write_text(GTF)
    return fasta, gtf


def test_region_parsing():
    assert parse_region("chr1:1,001-2,000") == ("chr1", 1000, 2000)
    assert parse_region("chrX") == ("chrX", None, None)
    with pytest.raises(sciarch.UsageError):
        parse_region("chr1:10-5")


def test_scores_follow_the_motifs_on_both_strands(motif_model):
    ref = SequenceDict({"chrV": CHRV})
    plus = score_region(motif_model, ref, "chrV", 0, 60, strand="+", block_length=7)
    minus = score_region(motif_model, ref, "chrV", 0, 60, strand="-", block_length=7)
    assert np.flatnonzero(plus[:, 1] > 0.5).tolist() == [13]   # donor: base 14 (0-based 13)
    assert np.flatnonzero(plus[:, 0] > 0.5).tolist() == [21]   # acceptor: base 22
    assert np.flatnonzero(minus[:, 1] > 0.5).tolist() == [46]  # minus-strand donor: base 47
    # the minus strand of the genome is the plus strand of its reverse complement
    rc = SequenceDict({"chrV": reverse_complement_text(CHRV)})
    assert np.allclose(minus, score_region(motif_model, rc, "chrV", 0, 60, strand="+", block_length=11)[::-1])


def test_predict_writes_tsv_and_bedgraph(tmp_path, small_genome, motif_model):
    fasta, _ = small_genome
    out = tmp_path / "scores.tsv"
    result = predict_to_file(motif_model, fasta, out, region="chrV:11-30", strand="+", block_length=8)
    lines = out.read_text().splitlines()
    assert lines[0] == "chrom\tpos\tstrand\tacceptor\tdonor" and len(lines) == 21 and result["bases"] == 20
    rows = {int(r.split("\t")[1]): r.split("\t") for r in lines[1:]}
    assert float(rows[14][4]) > 0.99 and float(rows[22][3]) > 0.99 and float(rows[13][4]) < 0.01
    bedgraph = tmp_path / "scores.bedgraph"
    predict_to_file(motif_model, fasta, bedgraph, strand="both", min_score=0.5)
    text = bedgraph.read_text()
    assert text.count("track type=bedGraph") == 4
    assert "chrV\t13\t14\t1.0000" in text and "chrV\t21\t22\t1.0000" in text and "chrV\t46\t47\t1.0000" in text


def _vcf(tmp_path, rows):
    path = tmp_path / "in.vcf"
    header = "##fileformat=VCFv4.2\n##contig=<ID=chrV>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    path.write_text(header + "".join("\t".join(map(str, r)) + "\n" for r in rows))
    return path


def _info(line):
    return dict(f.split("=", 1) for f in line.split("\t")[7].split(";") if "=" in f)


def test_delta_scores_for_snvs_indels_and_strands(tmp_path, small_genome, motif_model):
    fasta, gtf = small_genome
    vcf = _vcf(tmp_path, [
        ("chrV", 16, "snv_loss", "T", "A", ".", "PASS", "."),      # GT -> GA: donor at 14 lost (DP -2)
        ("chrV", 25, "snv_gain", "C", "G,A", ".", "PASS", "DP=9"),  # CC -> ... no motif either way
        ("chrV", 18, "ins_gain", "C", "CGT", ".", "PASS", "."),    # inserts GT after 18: donor gained at 18
        ("chrV", 19, "del_loss", "CAG", "C", ".", "PASS", "."),    # deletes AG at 20-21: acceptor at 22 lost
        ("chrV", 46, "minus_loss", "C", "T", ".", "PASS", "."),    # AC -> AT: minus-strand donor at 47 lost
        ("chrV", 12, "bad_ref", "G", "A", ".", "PASS", "."),       # the FASTA has C here
        ("chrV", 2, "intergenic", "C", "A", ".", "PASS", "."),
        ("chrV", 26, "complex", "CC", "GA", ".", "PASS", "."),
    ])
    out = tmp_path / "out.vcf"
    result = score_vcf(motif_model, vcf, fasta, gtf, out, distance=6, batch_size=3)
    lines = out.read_text().splitlines()
    assert any(line.startswith("##INFO=<ID=SpliceAI,") for line in lines)
    body = {line.split("\t")[2]: line for line in lines if not line.startswith("#")}
    assert len(body) == 8  # every input record is written, scored or not

    def fields(name, k=0):
        return _info(body[name])["SpliceAI"].split(",")[k].split("|")

    allele, gene, ag, al, dg, dl, p_ag, p_al, p_dg, p_dl = fields("snv_loss")
    assert (allele, gene) == ("A", "PLUSG") and float(dl) == 1.0 and int(p_dl) == -2 and float(dg) == 0.0
    assert [f[2:6] for f in (fields("snv_gain", 0), fields("snv_gain", 1))] == [["0.00"] * 4] * 2
    assert _info(body["snv_gain"])["DP"] == "9"  # existing INFO kept
    ins = fields("ins_gain")
    assert float(ins[4]) == 1.0 and int(ins[8]) == 0  # donor gained at the insertion's anchor base 18
    deletion = fields("del_loss")
    assert float(deletion[3]) == 1.0 and int(deletion[7]) == 3  # acceptor at 22 lost, 3 bases right of 19
    minus = fields("minus_loss")
    assert minus[1] == "MINUSG" and float(minus[5]) == 1.0 and int(minus[9]) == 1  # donor at 47, variant at 46
    assert fields("complex")[2:] == ["."] * 8
    assert "SpliceAI" not in _info(body["bad_ref"]) and "SpliceAI" not in _info(body["intergenic"])
    assert result["skipped"]["reasons"] == {"REF mismatch": 1} and result["outside_genes"] == 1
    assert result["skipped"]["records"][0]["record"] == "line 9"


def test_predict_in_segments_gives_the_same_scores(tmp_path, small_genome, motif_model):
    fasta, _ = small_genome
    whole, pieces = tmp_path / "whole.tsv", tmp_path / "pieces.tsv"
    predict_to_file(motif_model, fasta, whole, block_length=7, segment_blocks=100)
    predict_to_file(motif_model, fasta, pieces, block_length=7, segment_blocks=1)
    assert sorted(whole.read_text().splitlines()) == sorted(pieces.read_text().splitlines())

    def per_base(path):
        values, track = {}, None
        for line in path.read_text().splitlines():
            if line.startswith("track"):
                track = line.split('"')[1]
                continue
            chrom, lo, hi, value = line.split("\t")
            for i in range(int(lo), int(hi)):
                values[(track, i)] = value
        return values

    predict_to_file(motif_model, fasta, tmp_path / "whole.bedgraph", block_length=7, segment_blocks=100)
    predict_to_file(motif_model, fasta, tmp_path / "pieces.bedgraph", block_length=7, segment_blocks=1)
    assert per_base(tmp_path / "whole.bedgraph") == per_base(tmp_path / "pieces.bedgraph")
    assert not list(tmp_path.glob(".tracks-*"))  # temporary track files are gone


# SpliceAI's own annotation table for the same two genes: 0-based starts, end-excluded ends
TABLE = ("#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
         "PLUSG\tchrV\t+\t4\t30\t4,21,\t14,30,\n"
         "MINUSG\tchrV\t-\t34\t58\t34,46,\t40,58,\n")


def test_spliceai_annotation_table_scores_as_the_gtf(tmp_path, small_genome, motif_model):
    from sciarch_datasets.genomics.annotation import detect_format, read_annotation

    fasta, gtf = small_genome
    table = tmp_path / "genes.txt"
    table.write_text(TABLE + "BAD\tchrV\t*\t1\t5\t1,\t5,\nODD\tchrV\t+\t1\t9\t1,6,\t5,\nREV\tchrV\t+\t1\t9\t6,\t3,\n")
    assert detect_format(table) == "spliceai"
    report = sciarch.BadRecords(source=str(table))
    genes = {g.name: g for _, found in read_annotation(table, report=report) for g in found}
    from_gtf = {g.name: g for _, found in read_annotation(gtf) for g in found}
    assert set(genes) == {"PLUSG", "MINUSG"} and report.count == 3
    assert [r["record"] for r in report.to_dict()["records"]] == ["line 4", "line 5", "line 6"]
    for name in genes:
        assert genes[name].canonical().exons == from_gtf[name].canonical().exons
        assert genes[name].strand == from_gtf[name].strand
    vcf = _vcf(tmp_path, [("chrV", 16, "a", "T", "A", ".", "PASS", "."), ("chrV", 46, "b", "C", "T", ".", "PASS", "."),
                          ("chrV", 19, "c", "CAG", "C", ".", "PASS", ".")])
    score_vcf(motif_model, vcf, fasta, gtf, tmp_path / "gtf.vcf", distance=6)
    score_vcf(motif_model, vcf, fasta, table, tmp_path / "table.vcf", distance=6)
    assert (tmp_path / "gtf.vcf").read_text() == (tmp_path / "table.vcf").read_text()
    with pytest.raises(sciarch.DataError, match="header"):
        (tmp_path / "headless.txt").write_text("#NAME\tCHROM\n")
        list(read_annotation(tmp_path / "headless.txt", format="spliceai"))


def test_mask_zeroes_gains_at_annotated_boundaries_and_losses_elsewhere(tmp_path, motif_model):
    """SpliceAI's -M 1, on a gene with exons 5-40 and 61-75 (1-based; boundaries 5, 40, 61, 75)."""
    seq = list("C" * 80)
    seq[41], seq[49], seq[50] = "T", "G", "T"  # T at 42 (a G at 41 makes GT: donor at 40); GT at 50-51: donor at 49
    fasta = tmp_path / "w.fa"
    fasta.write_text(">chrW\n" + "".join(seq) + "\n")
    table = tmp_path / "w.txt"
    table.write_text("#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\nWG\tchrW\t+\t4\t75\t4,60,\t40,75,\n")
    vcf = tmp_path / "w.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   "chrW\t41\tgain_at_boundary\tC\tG\t.\t.\t.\n"      # donor gained at 40: annotated, masked
                   "chrW\t50\tloss_elsewhere\tG\tC\t.\t.\t.\n")       # donor at 49 lost: not annotated, masked
    results = {}
    for mask in (False, True):
        out = tmp_path / f"m{int(mask)}.vcf"
        score_vcf(motif_model, vcf, fasta, table, out, distance=12, mask=mask)
        results[mask] = {line.split("\t")[2]: _info(line)["SpliceAI"].split("|")
                         for line in out.read_text().splitlines() if not line.startswith("#")}
    plain, masked = results[False], results[True]
    assert plain["gain_at_boundary"][4] == "1.00" and plain["gain_at_boundary"][8] == "-1"
    assert masked["gain_at_boundary"][4] == "0.00" and masked["gain_at_boundary"][8] == "-1"  # offsets kept
    assert plain["loss_elsewhere"][5] == "1.00" and plain["loss_elsewhere"][9] == "-1"
    assert masked["loss_elsewhere"][5] == "0.00"


def test_mask_keeps_a_loss_at_an_annotated_site_and_distance_goes_to_4999(tmp_path, small_genome, motif_model):
    fasta, gtf = small_genome
    vcf = _vcf(tmp_path, [("chrV", 16, "snv_loss", "T", "A", ".", "PASS", ".")])  # donor at 14 (annotated) lost
    for distance in (6, 4999):
        out = tmp_path / f"d{distance}.vcf"
        score_vcf(motif_model, vcf, fasta, gtf, out, distance=distance, mask=True)
        fields = _info(out.read_text().splitlines()[-1])["SpliceAI"].split("|")
        assert fields[5] == "1.00" and fields[9] == "-2"
