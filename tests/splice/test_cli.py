"""End to end through the CLI: train the smoke recipe, then `sciarch splice predict` and `score-variants`
on a small FASTA/GTF/VCF, and `sciarch predict` through the task's predictor."""

from __future__ import annotations

import pytest
from sciarch.cli import main
from sciarch_datasets.genomics import read_gtf
from sciarch_datasets.genomics.reference import open_reference
from sciarch_datasets.genomics.sequence import decode


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A smoke-trained SpliceAI-400 run and the simulated genome it was trained on."""
    from sciarch.runs import Run

    root = tmp_path_factory.mktemp("splice_cli")
    with pytest.MonkeyPatch.context() as patch:  # module-scoped: the per-test cache fixture is not active yet
        patch.setenv("SCIARCH_CACHE", str(root / "cache"))
        run = root / "run"
        assert main(["train", "splice/spliceai-400", "--smoke", "--quiet", "--run-dir", str(run)]) == 0
        fasta, gtf = Run(run).build()[0].inputs()
        yield run, fasta, gtf


def test_predict_command_writes_scores_for_a_region(trained, tmp_path):
    run, fasta, _ = trained
    out = tmp_path / "chr1.tsv"
    assert main(["splice", "predict", "--checkpoint", str(run), "--fasta", str(fasta), "--region", "chr1:1001-3000",
                 "--output", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 1 + 2 * 2000  # header, both strands
    values = [float(v) for line in lines[1:] for v in line.split("\t")[3:]]
    assert all(0.0 <= v <= 1.0 for v in values)
    bedgraph = tmp_path / "chr1.bedgraph"
    assert main(["splice", "predict", "--checkpoint", str(run), "--fasta", str(fasta), "--region", "chr1:1-500",
                 "--strand", "+", "--output", str(bedgraph)]) == 0
    assert bedgraph.read_text().count("track type=bedGraph") == 2
    # the same through `sciarch predict` and the task's predictor
    again = tmp_path / "again.tsv"
    assert main(["predict", "--checkpoint", str(run), "--input", str(fasta), "--output", str(again),
                 "--option", "region=chr1:1001-3000"]) == 0
    assert again.read_text() == out.read_text()


def test_score_variants_command_annotates_a_vcf(trained, tmp_path):
    run, fasta, gtf = trained
    gene = next(g for _, genes in read_gtf(gtf) for g in genes if g.strand == "+")
    donor = gene.canonical().donors[0]  # 0-based; the intron's G is at donor + 1
    with open_reference(fasta) as ref:
        g_base = decode(ref.fetch(gene.chrom, donor + 1, donor + 2))
        other = decode(ref.fetch(gene.chrom, donor + 5, donor + 6))
    wrong = "A" if other != "A" else "C"
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   f"{gene.chrom}\t{donor + 2}\tdonor_g\t{g_base}\tA\t.\tPASS\t.\n"
                   f"{gene.chrom}\t{donor + 6}\tmismatch\t{wrong}\tT\t.\tPASS\t.\n"
                   "chrNOPE\t100\tnocontig\tA\tT\t.\tPASS\t.\n")
    out = tmp_path / "out.vcf"
    assert main(["splice", "score-variants", "--checkpoint", str(run), "--vcf", str(vcf), "--fasta", str(fasta),
                 "--annotation", str(gtf), "--output", str(out), "-D", "25"]) == 0
    records = {line.split("\t")[2]: line for line in out.read_text().splitlines() if not line.startswith("#")}
    info = records["donor_g"].split("\t")[7]
    assert info.startswith("SpliceAI=A|" + gene.name + "|")
    fields = info.split("|")
    assert len(fields) == 10 and all(0.0 <= float(f) <= 1.0 for f in fields[2:6])
    assert all(-25 <= int(f) <= 25 for f in fields[6:])
    assert records["mismatch"].split("\t")[7] == "." and records["nocontig"].split("\t")[7] == "."
