"""Hostile genome inputs: GTF, GFF3, GenBank, FASTA and VCF, plain and gzip, through the splice plugin.

Most cases append bad lines to the simulated genome's annotation and prepare it (what
``sciarch train`` does first); the six simulated genes must all be kept and each bad record named
with its line. The commands themselves (``train``, ``splice score-variants``, ``splice predict``)
are run for what only they show: exit status, the printed skip report, a warm cache, strict mode.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sciarch
from sciarch.records import BadRecords
from sciarch_datasets.genomics.prepare import prepare_splice_sites

from .conftest import corrupt_gzip, gzip_file, truncate

GENES = 9
#: the last contig of the annotation: lines appended to the file continue it
LAST = "chr3"


@pytest.fixture(scope="module")
def genome(tmp_path_factory) -> tuple[Path, str, dict[str, int]]:
    """(FASTA, GTF text, contig lengths) of a three-contig simulated genome with nine genes."""
    from sciarch_datasets.genomics.reference import open_reference
    from sciarch_datasets.genomics.simulate import simulated_genome

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCIARCH_CACHE", str(tmp_path_factory.mktemp("genome_cache")))
        fasta, gtf = simulated_genome(seed=0, chromosomes=3, genes_per_chromosome=3)
    with open_reference(fasta) as ref:
        lengths = {name: ref.contigs[name] for name in ("chr1", "chr2", "chr3")}
    return Path(fasta), Path(gtf).read_text(), lengths


def _prepare(annotation: Path, fasta: Path, tmp_path: Path, **options) -> tuple[dict, BadRecords]:
    out = prepare_splice_sites(annotation, tmp_path / "prepared", fasta=fasta, block_length=500, context=400,
                               progress=False, **options)
    manifest = json.loads((out / "manifest.json").read_text())
    return manifest["stats"], BadRecords.from_dict(manifest["bad_records"])


def _exon(chrom: str, start: object, end: object, strand: str = "+", gene: str = "BAD", transcript: str = "BAD.1",
          columns: int = 9) -> str:
    fields = [chrom, "test", "exon", str(start), str(end), ".", strand, ".",
              f'gene_id "{gene}"; transcript_id "{transcript}";']
    return "\t".join(fields[:columns]) + "\n"


# appended to the annotation (on the last contig unless said): the lines, how many records
# are skipped, and the reason of the first, which must name the first appended line
GTF_DAMAGE = {
    "8 columns": (lambda n: [_exon(LAST, 100, 200, columns=8)], 1, "expected 9 tab-separated columns, found 8"),
    "reversed coordinates": (lambda n: [_exon(LAST, 500, 200)], 1, "end 200 before start 500"),
    "coordinate not a number": (lambda n: [_exon(LAST, "1e3", 2000)], 1, "start/end are not whole numbers"),
    "start 0": (lambda n: [_exon(LAST, 0, 200)], 1, "start 0 < 1"),
    "strand neither + nor -": (lambda n: [_exon(LAST, 100, 200, strand=".")], 1, "strand '.' is neither"),
    "no gene_id": (lambda n: [f"{LAST}\ttest\texon\t100\t200\t.\t+\t.\ttranscript_id \"X.1\";\n"], 1, "no gene_id"),
    "no transcript_id": (lambda n: [f"{LAST}\ttest\texon\t100\t200\t.\t+\t.\tgene_id \"X\";\n"], 1,
                         "exon line without a transcript_id"),
    "binary garbage": (lambda n: ["\x00\ufffd\ufffd garbage \x07\n"], 1, "expected 9 tab-separated columns, found 1"),
    "exons overlap": (lambda n: [_exon(LAST, 100, 300), _exon(LAST, 200, 400)], 1, "exons overlap"),
    "exons on both strands": (lambda n: [_exon(LAST, 100, 200), _exon(LAST, 300, 400, strand="-")], 1,
                              "exons on both strands"),
    "exons past the contig's end": (lambda n: [_exon(LAST, n + 10, n + 20), _exon(LAST, n + 40, n + 90)], 1,
                                    "past the end of chr3"),
    "contig not in the FASTA": (lambda n: [_exon("chrZ", 100, 200), _exon("chrZ", 300, 400)], 1,
                                "contig chrZ is not in the FASTA"),
    "unsorted contigs": (lambda n: [_exon("chr1", 100, 200, gene="SIMG00001", transcript="SIMT00001.1")], 1,
                         "continues after its contig's lines ended"),
}


@pytest.mark.parametrize("case", list(GTF_DAMAGE))
def test_a_bad_gtf_record_is_named_with_its_line_and_skipped(case, genome, tmp_path):
    fasta, text, lengths = genome
    lines, skipped, reason = GTF_DAMAGE[case]
    base = text.count("\n")
    annotation = tmp_path / "damaged.gtf"
    annotation.write_text(text + "".join(lines(lengths[LAST])), encoding="utf-8")
    stats, report = _prepare(annotation, fasta, tmp_path)
    assert report.count == skipped, [str(r) for r in report.records]
    first = str(report.records[0])
    assert first.startswith(str(annotation)) and reason in first
    if re.search(r": line \d+:", first):
        assert f"line {base + 1}" in first or f"line {base + 2}" in first
    assert stats["genes"] == GENES  # nothing valid dropped


def test_strict_stops_at_the_first_bad_gtf_line(genome, tmp_path):
    fasta, text, lengths = genome
    annotation = tmp_path / "strict.gtf"
    annotation.write_text(text + _exon(LAST, 500, 200))
    with pytest.raises(sciarch.DataError, match=rf"strict.gtf: line {text.count(chr(10)) + 1}: end 200 before"):
        _prepare(annotation, fasta, tmp_path, strict=True)
    assert not (tmp_path / "prepared").exists()  # nothing half-written


def _gff3(gtf_text: str) -> str:
    """The simulated GTF as GFF3 (gene, mRNA, exon; Parent links)."""
    out = ["##gff-version 3\n"]
    for line in gtf_text.splitlines():
        if line.startswith("#"):
            continue
        c = line.split("\t")
        gene = re.search(r'gene_id "([^"]+)"', c[8]).group(1)
        transcript = re.search(r'transcript_id "([^"]+)"', c[8])
        if c[2] == "gene":
            attrs = f"ID=gene:{gene};biotype=protein_coding"
        elif c[2] == "transcript":
            attrs = f"ID=transcript:{transcript.group(1)};Parent=gene:{gene}"
            c[2] = "mRNA"
        elif c[2] == "exon":
            attrs = f"Parent=transcript:{transcript.group(1)}"
        else:
            continue
        out.append("\t".join(c[:8] + [attrs]) + "\n")
    return "".join(out)


def _feature(kind: str, start: int, end: int, attrs: str) -> str:
    return f"{LAST}\ttest\t{kind}\t{start}\t{end}\t.\t+\t.\t{attrs}\n"


GFF3_DAMAGE = {
    "Parent cycle": ([_feature("gene", 100, 900, "ID=gene:CYC;Parent=transcript:CYC.1"),
                      _feature("mRNA", 100, 900, "ID=transcript:CYC.1;Parent=gene:CYC"),
                      _feature("exon", 100, 200, "Parent=transcript:CYC.1"),
                      _feature("exon", 700, 900, "Parent=transcript:CYC.1")], 2,
                     "feature gene:CYC is its own ancestor (Parent cycle gene:CYC -> transcript:CYC.1 -> gene:CYC)"),
    "own parent": ([_feature("mRNA", 100, 900, "ID=SELF;Parent=SELF"),
                    _feature("exon", 100, 200, "Parent=SELF"), _feature("exon", 700, 900, "Parent=SELF")], 1,
                   "feature SELF is its own ancestor"),
    "undefined Parent": ([_feature("exon", 100, 200, "Parent=transcript:NOWHERE")], 1,
                         "exon Parent 'transcript:NOWHERE' is not defined"),
    "exon without Parent": ([_feature("exon", 100, 200, "ID=lonely")], 1, "exon without a Parent attribute"),
}


@pytest.mark.parametrize("case", list(GFF3_DAMAGE))
def test_a_bad_gff3_feature_is_named_with_its_line_and_skipped(case, genome, tmp_path):
    fasta, text, _ = genome
    lines, skipped, reason = GFF3_DAMAGE[case]
    gff = _gff3(text)
    base = gff.count("\n")
    annotation = tmp_path / "damaged.gff3"
    annotation.write_text(gff + "".join(lines))
    stats, report = _prepare(annotation, fasta, tmp_path)
    assert report.count == skipped, [str(r) for r in report.records]
    first = str(report.records[0])
    assert reason in first and first.startswith(str(annotation)) and f"line {base + 1}" in first
    assert stats["genes"] == GENES


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
@pytest.mark.parametrize("fmt", ["gtf", "gff3"])
def test_a_damaged_gzip_annotation_is_a_data_error_naming_file_and_line(fmt, damage, genome, tmp_path):
    fasta, text, _ = genome
    plain = tmp_path / f"genes.{fmt}"
    plain.write_text((text if fmt == "gtf" else _gff3(text)) * 1)
    packed = gzip_file(plain)
    truncate(packed, 0.6) if damage == "truncated" else corrupt_gzip(packed)
    with pytest.raises(sciarch.DataError) as caught:
        _prepare(packed, fasta, tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{packed}: line ")
    assert ("truncated gzip" if damage == "truncated" else "gzip") in message
    assert caught.value.exit_code == 2


def test_an_annotation_with_no_gene_is_a_data_error(genome, tmp_path):
    fasta, _, _ = genome
    annotation = tmp_path / "empty.gtf"
    annotation.write_text("#just a comment\n")
    with pytest.raises(sciarch.DataError, match="empty.gtf: no gene with an intron could be labelled"):
        _prepare(annotation, fasta, tmp_path)


def test_a_genbank_file_that_is_not_genbank_is_a_data_error(tmp_path):
    annotation = tmp_path / "junk.gbk"
    annotation.write_text("LOCUS       broken\nthis is not GenBank\n")
    with pytest.raises(sciarch.DataError, match="junk.gbk: "):
        _prepare(annotation, None, tmp_path)


# -- through the commands ------------------------------------------------------------------------------


def _recipe(folder: Path, fasta: Path, annotation: Path, **args: object) -> Path:
    extra = "".join(f", {k}: {v}" for k, v in args.items())
    recipe = folder / "splice.yaml"
    recipe.write_text(
        "seed: 0\n"
        f"data:\n  name: splice/sites\n  args: {{fasta: '{fasta}', annotation: '{annotation}', block_length: 500, "
        "context: 400, batch_size: 4, val_chromosomes: [chr2], test_chromosomes: [chr1], limit_train_genes: 1, "
        f"limit_eval_genes: 1{extra}}}\n"
        "model:\n  name: splice/spliceai-400\n"
        "task:\n  name: splice/sites\n"
        "trainer: {max_epochs: 1, accelerator: cpu, limit_train_batches: 1, limit_val_batches: 1, "
        "limit_test_batches: 1, num_sanity_val_steps: 0}\n")
    return recipe


def test_train_names_each_skipped_record_and_a_warm_cache_says_it_again(genome, tmp_path, sciarch, monkeypatch):
    fasta, text, lengths = genome
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path / "cache"))
    n = lengths[LAST]
    bad = [_exon(LAST, 100, 200, columns=8), _exon(LAST, 500, 200),
           _exon(LAST, n + 10, n + 20, gene="PAST", transcript="PAST.1"),
           _exon(LAST, n + 40, n + 90, gene="PAST", transcript="PAST.1"),
           _exon("chrZ", 100, 200, gene="Z", transcript="Z.1"), _exon("chrZ", 300, 400, gene="Z", transcript="Z.1")]
    annotation = tmp_path / "bad.gtf"
    annotation.write_text(text + "".join(bad))
    base = text.count("\n")
    recipe = _recipe(tmp_path, fasta, annotation)
    wanted = [f"{annotation}: skipped 4 bad record(s)", f"line {base + 1}: expected 9 tab-separated columns",
              f"line {base + 2}: end 200 before start 500", "transcript PAST.1 ends at", "contig chrZ is not in the FASTA"]
    first = sciarch("train", recipe, "--run-dir", tmp_path / "run1").check(0, *wanted, f"{GENES} genes")
    assert first.text.count("skipped 4 bad record(s)") == 1
    warm = sciarch("train", recipe, "--run-dir", tmp_path / "run2").check(0, *wanted)
    assert "preparing splice-site windows" not in warm.text
    quiet = sciarch("train", recipe, "-q", "--run-dir", tmp_path / "run-q").check(0, wanted[0])
    assert not any(line in quiet.text for line in wanted[1:])  # -q: one line
    strict = _recipe(tmp_path, fasta, annotation, strict="true")
    sciarch("train", strict, "-q", "--run-dir", tmp_path / "run3").check(
        2, f"{annotation}: line {base + 1}: expected 9 tab-separated columns")


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_train_on_a_damaged_gzip_gtf_is_exit_2_not_aborted(damage, genome, tmp_path, sciarch, monkeypatch):
    fasta, text, _ = genome
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path / "cache"))
    plain = tmp_path / "genes.gtf"
    plain.write_text(text)
    packed = gzip_file(plain)
    truncate(packed, 0.6) if damage == "truncated" else corrupt_gzip(packed)
    result = sciarch("train", _recipe(tmp_path, fasta, packed), "-q", "--run-dir", tmp_path / "run")
    result.check(2, f"{packed}: line ", "truncated gzip" if damage == "truncated" else "corrupt gzip")
    assert result.code != 130


def _vcf(splice_run, folder: Path, body: str) -> Path:
    vcf = folder / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + body)
    return vcf


def test_score_variants_on_a_truncated_gzip_vcf_is_exit_2(splice_run, tmp_path, sciarch):
    run, fasta, gtf = splice_run
    body = "".join(f"chr1\t{1000 + i}\tv{i}\tA\tT\t.\tPASS\t.\n" for i in range(3000))
    packed = truncate(gzip_file(_vcf(splice_run, tmp_path, body)), 0.5)
    out = tmp_path / "out.vcf"
    sciarch("splice", "score-variants", "--checkpoint", run, "--vcf", packed, "--fasta", fasta, "--annotation", gtf,
            "--output", out).check(2, f"{packed}: line ", "truncated gzip")
    assert not out.exists()  # no half-written output


def test_score_variants_names_malformed_vcf_lines_and_passes_them_through(splice_run, tmp_path, sciarch):
    run, fasta, gtf = splice_run
    body = ("chr1\t1000\tok\tA\tT\t.\tPASS\t.\n"
            "chr1\t1001\tshort\tA\tT\t.\tPASS\n"           # 7 columns
            "chr1\tx\tpos\tA\tT\t.\tPASS\t.\n"             # POS not a number
            "chr1\t1003\tnoref\t.\tT\t.\tPASS\t.\n"        # empty REF
            "chr1\t1004\tok2\tA\tC\t.\tPASS\t.\n")
    vcf = _vcf(splice_run, tmp_path, body)
    out = tmp_path / "out.vcf"
    sciarch("splice", "score-variants", "--checkpoint", run, "--vcf", vcf, "--fasta", fasta, "--annotation", gtf,
            "--output", out).check(0, "(3 malformed VCF line", f"{vcf}: line 4: expected at least 8",
                                   "line 5: POS 'x'", "line 6: empty REF")
    data = [line for line in out.read_text().splitlines() if not line.startswith("#")]
    assert len(data) == 5  # every input record is written out, scored or not


def test_score_variants_on_a_vcf_without_header_is_exit_2(splice_run, tmp_path, sciarch):
    run, fasta, gtf = splice_run
    vcf = tmp_path / "headless.vcf"
    vcf.write_text("chr1\t1000\tok\tA\tT\t.\tPASS\t.\n")
    sciarch("splice", "score-variants", "--checkpoint", run, "--vcf", vcf, "--fasta", fasta, "--annotation", gtf,
            "--output", tmp_path / "o.vcf").check(2, f"{vcf}: line 1: data line before the #CHROM header")


@pytest.mark.parametrize("command", ["splice predict", "predict"])
def test_predict_on_a_truncated_gzip_fasta_is_exit_2(command, splice_run, tmp_path, sciarch, monkeypatch):
    run, fasta, _ = splice_run
    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path / "cache"))
    packed = truncate(gzip_file(Path(fasta), tmp_path / "genome.fa.gz"), 0.5)
    if command == "predict":
        args = ["predict", "--checkpoint", run, "--input", packed, "--output", tmp_path / "o.tsv",
                "--option", "region=chr1:1-500"]
    else:
        args = ["splice", "predict", "--checkpoint", run, "--fasta", packed, "--region", "chr1:1-500",
                "--output", tmp_path / "o.tsv"]
    sciarch(*args).check(2, f"{packed}: truncated gzip")
    assert not list((tmp_path / "cache").rglob("genome.fa"))  # no half-decompressed copy left


def test_score_variants_reports_the_annotation_records_it_skipped(splice_run, tmp_path, sciarch):
    run, fasta, gtf = splice_run
    annotation = tmp_path / "genes.gtf"
    annotation.write_text(Path(gtf).read_text() + _exon("chr1", 500, 200))
    lines = annotation.read_text().count("\n")
    vcf = _vcf(splice_run, tmp_path, "chr1\t1000\tv\tA\tT\t.\tPASS\t.\n")
    sciarch("splice", "score-variants", "--checkpoint", run, "--vcf", vcf, "--fasta", fasta, "--annotation",
            annotation, "--output", tmp_path / "out.vcf").check(
        0, f"{annotation}: skipped 1 bad record(s)", f"{annotation}: line {lines}: end 200 before start 500")


FASTA_DAMAGE = {
    "0-byte FASTA": (b"", "does not contain a valid sequence"),
    "no header line": (b"ACGT\nACGT\n", "Unexpected text before the first sequence definition line"),
    "contig twice": (b">chr1\nACGT\n>chr1\nAAAA\n", 'Duplicate key "chr1"'),
    "truncated bgzip": (None, "cannot index FASTA"),
}


@pytest.mark.parametrize("case", list(FASTA_DAMAGE))
def test_a_fasta_that_cannot_be_indexed_is_a_data_error_naming_it(case, genome, tmp_path):
    fasta, text, _ = genome
    content, reason = FASTA_DAMAGE[case]
    bad = tmp_path / ("genome.fa.bgz" if content is None else "genome.fa")
    if content is None:
        from Bio import bgzf

        with bgzf.BgzfWriter(str(bad), "wb") as writer:
            writer.write(fasta.read_bytes())
        truncate(bad, 0.5)
    else:
        bad.write_bytes(content)
    annotation = tmp_path / "genes.gtf"
    annotation.write_text(text)
    with pytest.raises(sciarch.DataError) as caught:
        _prepare(annotation, bad, tmp_path)
    assert str(caught.value).startswith(f"{bad}: ") and reason in str(caught.value)
    assert not (tmp_path / "prepared").exists()
