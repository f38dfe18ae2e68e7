"""Property-based checks of the parsers where they pay: GTF/GFF3 lines, VCF records, SMILES cells,
WAV headers. Two kinds of property: what is written is read back the same (round trips), and
whatever bytes a line or header holds, the reader answers with a record, a counted skip or a
:class:`sciarch.DataError`, never another exception.

Examples are few (the default pass must stay fast); Hypothesis's database is off, so a run does
not depend on the last one.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
import sciarch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FAST = settings(max_examples=30, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# -- annotations ---------------------------------------------------------------------------------------


@st.composite
def gene_models(draw):
    """Genes on one contig: each one transcript of sorted exons with introns between them."""
    genes = []
    position = draw(st.integers(1, 50))
    for g in range(draw(st.integers(1, 4))):
        strand = draw(st.sampled_from("+-"))
        exons = []
        for _ in range(draw(st.integers(1, 4))):
            start = position + draw(st.integers(1, 30))
            end = start + draw(st.integers(0, 40))
            exons.append((start, end))  # 1-based, inclusive
            position = end + 1
        genes.append((f"G{g}", strand, exons))
        position += draw(st.integers(1, 100))
    return genes


def _gtf(genes) -> str:
    lines = []
    for gene, strand, exons in genes:
        attrs = f'gene_id "{gene}"; transcript_id "{gene}.1";'
        lines.append(f"chrP\tt\ttranscript\t{exons[0][0]}\t{exons[-1][1]}\t.\t{strand}\t.\t{attrs}\n")
        lines += [f"chrP\tt\texon\t{s}\t{e}\t.\t{strand}\t.\t{attrs}\n" for s, e in exons]
    return "".join(lines)


def _gff3(genes) -> str:
    lines = ["##gff-version 3\n"]
    for gene, strand, exons in genes:
        lines.append(f"chrP\tt\tgene\t{exons[0][0]}\t{exons[-1][1]}\t.\t{strand}\t.\tID=gene:{gene}\n")
        lines.append(f"chrP\tt\tmRNA\t{exons[0][0]}\t{exons[-1][1]}\t.\t{strand}\t.\t"
                     f"ID=transcript:{gene}.1;Parent=gene:{gene}\n")
        lines += [f"chrP\tt\texon\t{s}\t{e}\t.\t{strand}\t.\tParent=transcript:{gene}.1\n" for s, e in exons]
    return "".join(lines)


def _read(reader, path: Path):
    report = sciarch.BadRecords(source=str(path))
    genes = {g.id: g for _, found in reader(path, report) for g in found}
    return genes, report


@pytest.mark.parametrize("fmt", ["gtf", "gff3"])
@FAST
@given(genes=gene_models())
def test_an_annotation_written_is_read_back_the_same(fmt, genes, tmp_path_factory):
    from sciarch_datasets.genomics.annotation import read_gff3, read_gtf

    path = tmp_path_factory.mktemp("annotation") / f"genes.{fmt}"
    path.write_text(_gtf(genes) if fmt == "gtf" else _gff3(genes))
    found, report = _read(read_gtf if fmt == "gtf" else read_gff3, path)
    assert report.count == 0, [str(r) for r in report.records]
    assert set(found) == {g for g, _, _ in genes}
    for gene, strand, exons in genes:
        [transcript] = found[gene].transcripts
        assert transcript.strand == strand
        assert transcript.exons == tuple((s - 1, e) for s, e in exons)  # 0-based, end excluded


FIELD = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=12)
LINE = st.one_of(
    st.lists(FIELD, min_size=0, max_size=11).map("\t".join),
    st.tuples(st.sampled_from(["chrP", "", "chr1"]), FIELD, st.sampled_from(["exon", "gene", "mRNA", "transcript"]),
              st.one_of(st.integers(-5, 400).map(str), FIELD), st.one_of(st.integers(-5, 400).map(str), FIELD),
              FIELD, st.sampled_from(["+", "-", ".", "?"]), FIELD,
              st.one_of(FIELD, st.sampled_from(['gene_id "A"; transcript_id "A.1";', "ID=x;Parent=x",
                                                "ID=a;Parent=b", "ID=b;Parent=a", "Parent=a,b,,", "Parent=%zz"])))
    .map("\t".join),
)


@pytest.mark.parametrize("fmt", ["gtf", "gff3"])
@FAST
@given(genes=gene_models(), noise=st.lists(LINE, max_size=8))
def test_any_lines_are_read_skipped_or_refused_never_a_crash(fmt, genes, noise, tmp_path_factory):
    from sciarch_datasets.genomics.annotation import read_gff3, read_gtf

    path = tmp_path_factory.mktemp("noisy") / f"genes.{fmt}"
    good = _gtf(genes) if fmt == "gtf" else _gff3(genes)
    path.write_text(good + "".join(line + "\n" for line in noise), encoding="utf-8")
    try:
        found, report = _read(read_gtf if fmt == "gtf" else read_gff3, path)
    except sciarch.DataError as exc:
        assert str(path) in str(exc)
        return
    for gene in found.values():
        for transcript in gene.transcripts:
            assert all(s < e for s, e in transcript.exons)
            assert all(a[1] < b[0] for a, b in zip(transcript.exons, transcript.exons[1:], strict=False))
    assert all(r.file == str(path) and r.record for r in report.records)


# -- VCF -----------------------------------------------------------------------------------------------

BASES = st.text(alphabet="ACGT", min_size=1, max_size=5)
VCF_HEADER = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@FAST
@given(records=st.lists(st.tuples(st.sampled_from(["chr1", "2", "chrX"]), st.integers(1, 10**9),
                                  st.from_regex(r"[A-Za-z0-9_.]{1,8}", fullmatch=True), BASES,
                                  st.lists(BASES, min_size=1, max_size=3)), max_size=10))
def test_vcf_records_written_are_read_back_the_same(records, tmp_path_factory):
    from sciarch_datasets.genomics.vcf import read_vcf

    path = tmp_path_factory.mktemp("vcf") / "in.vcf"
    path.write_text(VCF_HEADER + "".join(f"{c}\t{p}\t{i}\t{r}\t{','.join(a)}\t.\tPASS\t.\n" for c, p, i, r, a in records))
    report = sciarch.BadRecords(source=str(path))
    read = [record for _, record in read_vcf(path, report) if record is not None]
    assert report.count == 0
    assert [(r.chrom, r.pos, r.id, r.ref, r.alts) for r in read] == [(c, p, i, r, a) for c, p, i, r, a in records]
    assert read[0].with_info("SpliceAI", "x").split("\t")[7] == "SpliceAI=x" if read else True


@FAST
@given(lines=st.lists(st.lists(FIELD, max_size=10).map("\t".join), max_size=10), header=st.booleans())
def test_any_vcf_lines_are_read_skipped_or_refused_never_a_crash(lines, header, tmp_path_factory):
    from sciarch_datasets.genomics.vcf import read_vcf

    path = tmp_path_factory.mktemp("vcf") / "noisy.vcf"
    path.write_text((VCF_HEADER if header else "") + "".join(line + "\n" for line in lines), encoding="utf-8")
    report = sciarch.BadRecords(source=str(path))
    try:
        out = list(read_vcf(path, report))
    except sciarch.DataError as exc:
        assert str(path) in str(exc) and "line" in str(exc)
        return
    data_lines = [line for line in lines if line.strip() and not line.startswith("#")]
    assert sum(1 for line, _ in out if not line.startswith("#")) == len(data_lines)  # every line passed through


# -- SMILES cells --------------------------------------------------------------------------------------

SMILES_LIKE = st.text(alphabet="CNOSPFIBrcln1234567890()[]=#@+-/\\.%Hx ,\"'", max_size=30)
TARGET = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
                   st.sampled_from(["", "nan", "NA", "?", "1e400", "x", "-0"]))


@FAST
@given(rows=st.lists(st.tuples(SMILES_LIKE, TARGET), max_size=12))
def test_any_smiles_csv_cells_are_read_skipped_or_refused_never_a_crash(rows, tmp_path_factory):
    import csv

    from sciarch_datasets.molecules.tables import parse_target, read_smiles_csv

    path = tmp_path_factory.mktemp("csv") / "cells.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["smiles", "y"])
        writer.writerows(rows)
    try:
        table = read_smiles_csv(path, targets=["y"])
    except sciarch.DataError as exc:
        assert str(path) in str(exc)
        return
    assert len(table) + table.report.count == len(rows)  # every row kept or counted (",": two empty cells)
    kept = iter(table.targets[:, 0])
    for _, target in rows:
        try:
            expected = parse_target(target)
        except ValueError:
            continue  # skipped and counted
        value = float(next(kept))
        assert (math.isnan(value) and math.isnan(expected)) or value == pytest.approx(expected, rel=1e-6, abs=1e-30) \
            or math.isinf(np.float32(expected))


@FAST
@given(smiles=SMILES_LIKE)
def test_any_smiles_featurises_or_gives_a_reason(smiles):
    from sciarch_datasets.molecules.featurise import Featuriser

    result = Featuriser()((smiles,))
    assert isinstance(result, (dict, str))
    if isinstance(result, dict):
        assert len(result["z"]) > 0 and result["edge_index"].shape[0] == 2


# -- WAV headers ---------------------------------------------------------------------------------------


def _wav(wave: np.ndarray, rate: int, subtype: str) -> bytes:
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, wave, rate, subtype=subtype, format="WAV")
    return buffer.getvalue()


@FAST
@given(rate=st.sampled_from([8000, 16000, 22050, 44100]), channels=st.integers(1, 3),
       frames=st.integers(1, 4000), subtype=st.sampled_from(["PCM_16", "PCM_24", "FLOAT"]), seed=st.integers(0, 99))
def test_a_wav_written_is_read_back_as_its_mono_16k_samples(rate, channels, frames, subtype, seed, tmp_path_factory):
    from sciarch_datasets.audio.wav import read_wav, resample

    wave = np.random.default_rng(seed).uniform(-0.5, 0.5, size=(frames, channels)).astype(np.float32)
    path = tmp_path_factory.mktemp("wav") / "clip.wav"
    path.write_bytes(_wav(wave, rate, subtype))
    mono, read_rate = read_wav(path)
    assert read_rate == rate and mono.shape == (frames,)
    assert np.allclose(mono, wave.mean(axis=1), atol=1 / 16000)
    from sciarch_datasets.audio.wav import read_clip

    report = sciarch.BadRecords(source="wav")
    clip = read_clip(path, report)
    assert report.count == 0
    assert np.allclose(clip, resample(mono, rate, 16000), atol=1e-5)


@FAST
@given(offset=st.integers(0, 43), junk=st.binary(min_size=1, max_size=8), cut=st.integers(0, 200))
def test_a_damaged_wav_header_is_a_counted_skip_never_a_crash(offset, junk, cut, tmp_path_factory):
    from sciarch_datasets.audio.wav import read_clip

    data = bytearray(_wav(np.zeros((400, 1), dtype=np.float32) + 0.1, 16000, "PCM_16"))
    data[offset:offset + len(junk)] = junk
    path = tmp_path_factory.mktemp("wav") / "damaged.wav"
    path.write_bytes(bytes(data[: len(data) - cut]))
    report = sciarch.BadRecords(source="wav")
    clip = read_clip(path, report, record="damaged.wav")
    if clip is None:
        assert report.count == 1 and report.records[0].record == "damaged.wav"
    else:
        assert report.count == 0 and clip.dtype == np.float32 and np.isfinite(clip).all()
