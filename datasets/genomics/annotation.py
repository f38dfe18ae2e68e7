"""Gene annotation: GTF and GFF3 streamed contig by contig, GenBank records through Biopython.

The readers build the same small model: a :class:`Gene` holds :class:`Transcript` objects, each
an ordered tuple of exons in 0-based, end-excluded genome coordinates. Coordinates in the files are
1-based and inclusive (GTF, GFF3, GenBank alike); they are converted once, here.

GTF and GFF3 files are read line by line and handed out one contig at a time (the order GENCODE,
Ensembl and RefSeq write them), so a whole human annotation never sits in memory at once. A
malformed line (wrong number of columns, a coordinate that is not a number, an end before its
start, a strand that is neither + nor -, a missing ``gene_id``/``transcript_id``/``Parent``) is
skipped and reported with its line number through :class:`sciarch.BadRecords`; so is a transcript
whose exons overlap or disagree on contig or strand.

A gene's **canonical transcript** is the one tagged ``Ensembl_canonical``, else ``MANE_Select``
(GENCODE/Ensembl ``tag`` attributes; RefSeq writes ``MANE Select``), else the longest (spliced
length, then genomic span, then the smaller id, so the choice never depends on file order).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal
from urllib.parse import unquote

import sciarch

from .reference import SequenceDict

#: tags that mark a gene's canonical transcript, best first (compared lower-case, spaces as "_")
CANONICAL_TAGS = ("ensembl_canonical", "mane_select")
TRANSCRIPT_FEATURES = {"transcript", "mrna"}
GENE_FEATURES = {"gene"}

AnnotationFormat = Literal["auto", "gtf", "gff3", "genbank", "spliceai"]

#: the header of SpliceAI's gene annotation tables (``spliceai/annotations/grch37.txt``, ``grch38.txt``)
SPLICEAI_TABLE_COLUMNS = ("#NAME", "CHROM", "STRAND", "TX_START", "TX_END", "EXON_START", "EXON_END")


def normalise_tag(tag: str) -> str:
    return tag.strip().lower().replace(" ", "_").replace("-", "_")


@dataclass(frozen=True)
class Transcript:
    """One transcript: exons as ``(start, end)`` pairs, 0-based, end excluded, sorted by start."""

    id: str
    gene_id: str
    chrom: str
    strand: str
    exons: tuple[tuple[int, int], ...]
    tags: frozenset[str] = frozenset()
    biotype: str = ""

    @property
    def start(self) -> int:
        return self.exons[0][0]

    @property
    def end(self) -> int:
        return self.exons[-1][1]

    @property
    def length(self) -> int:
        """Spliced length (sum of exon lengths)."""
        return sum(e - s for s, e in self.exons)

    @property
    def introns(self) -> list[tuple[int, int]]:
        return [(self.exons[i][1], self.exons[i + 1][0]) for i in range(len(self.exons) - 1)]

    @property
    def donors(self) -> list[int]:
        """Genome positions (0-based) of donor sites: the last exonic base before each intron, in the
        direction of transcription (on the minus strand, the exon base just left of the intron's start
        in genome coordinates is the *acceptor*; the donor is the base right of the intron's end)."""
        if self.strand == "+":
            return [s - 1 for s, _ in self.introns]
        return [e for _, e in self.introns]

    @property
    def acceptors(self) -> list[int]:
        """Genome positions (0-based) of acceptor sites: the first exonic base after each intron."""
        if self.strand == "+":
            return [e for _, e in self.introns]
        return [s - 1 for s, _ in self.introns]


@dataclass
class Gene:
    """A gene: its transcripts on one contig and strand."""

    id: str
    chrom: str
    strand: str
    transcripts: list[Transcript] = field(default_factory=list)
    name: str = ""
    biotype: str = ""

    @property
    def start(self) -> int:
        return min(t.start for t in self.transcripts)

    @property
    def end(self) -> int:
        return max(t.end for t in self.transcripts)

    def canonical(self) -> Transcript:
        """The tagged canonical transcript (Ensembl_canonical, then MANE_Select), else the longest."""
        for tag in CANONICAL_TAGS:
            tagged = [t for t in self.transcripts if tag in t.tags]
            if tagged:
                return min(tagged, key=lambda t: t.id)
        return min(self.transcripts, key=lambda t: (-t.length, -(t.end - t.start), t.id))


# -- shared plumbing ---------------------------------------------------------------------------


def open_text(path: str | os.PathLike) -> IO[str]:
    """Open a text file, gzip/bgzip or not, as text; a truncated or corrupt gzip stream is a
    :class:`sciarch.DataError` naming the file and line (:func:`sciarch.records.open_text`)."""
    from sciarch import open_text as open_input

    return open_input(path)  # type: ignore[return-value]


def detect_format(path: str | os.PathLike) -> str:
    """``gtf``, ``gff3`` or ``genbank`` from the file name, else from the first lines."""
    name = Path(path).name.lower().removesuffix(".gz").removesuffix(".bgz")
    for suffixes, fmt in (((".gtf",), "gtf"), ((".gff", ".gff3"), "gff3"),
                          ((".gb", ".gbk", ".gbff", ".genbank", ".embl.gb"), "genbank")):
        if name.endswith(suffixes):
            return fmt
    with open_text(path) as handle:
        for number, line in enumerate(handle):
            if number > 200:
                break
            if line.startswith("LOCUS"):
                return "genbank"
            if tuple(line.rstrip("\r\n").split("\t")[:7]) == SPLICEAI_TABLE_COLUMNS:
                return "spliceai"
            if line.startswith("##gff-version"):
                return "gff3"
            if line.startswith("#") or not line.strip():
                continue
            columns = line.rstrip("\n").split("\t")
            if len(columns) == 9:
                return "gtf" if '"' in columns[8] or re.search(r"\bgene_id \S", columns[8]) else "gff3"
    raise sciarch.DataError("cannot tell the annotation format (expected GTF, GFF3, GenBank or SpliceAI's "
                            "table); name the file .gtf, .gff3 or .gbk", file=path)


class _ContigBuilder:
    """Genes, transcripts and exons of one contig, collected until the contig's lines end."""

    def __init__(self, chrom: str) -> None:
        self.chrom = chrom
        self.gene_info: dict[str, dict] = {}
        self.transcripts: dict[str, dict] = {}

    def gene(self, gene_id: str, *, name: str = "", biotype: str = "", strand: str = "") -> None:
        info = self.gene_info.setdefault(gene_id, {"name": "", "biotype": "", "strand": ""})
        info["name"] = info["name"] or name
        info["biotype"] = info["biotype"] or biotype
        info["strand"] = info["strand"] or strand

    def transcript(self, transcript_id: str, gene_id: str, strand: str, line: int) -> dict:
        record = self.transcripts.get(transcript_id)
        if record is None:
            record = {"gene_id": gene_id, "strand": strand, "tags": set(), "biotype": "", "exons": [],
                      "line": line, "problem": None}
            self.transcripts[transcript_id] = record
        elif record["problem"] is None:
            if record["gene_id"] != gene_id:
                record["problem"] = (f"line {line}", f"belongs to gene {record['gene_id']} and {gene_id}")
            elif record["strand"] != strand:
                record["problem"] = (f"line {line}", f"exons on both strands ({record['strand']} and {strand})")
        return record

    def build(self, source: str, report: sciarch.BadRecords) -> list[Gene]:
        genes: dict[str, Gene] = {}
        for transcript_id, record in self.transcripts.items():
            where = f"line {record['line']}"
            if record["problem"] is not None:
                where, why = record["problem"]
                report.skip(f"transcript {transcript_id} {why}", file=source, record=where,
                            kind="inconsistent transcript")
                continue
            if not record["exons"]:
                continue  # a transcript line without exons (e.g. a gene's only CDS lines): nothing to label
            exons = sorted(record["exons"])
            merged = [list(exons[0])]
            problem = None
            for s, e in exons[1:]:
                if s < merged[-1][1]:
                    problem = f"exons overlap at {self.chrom}:{s + 1}"
                    break
                if s == merged[-1][1]:  # touching exons: a zero-length intron cannot be spliced out
                    merged[-1][1] = e
                else:
                    merged.append([s, e])
            if problem:
                report.skip(f"transcript {transcript_id}: {problem}", file=source, record=where,
                            kind="overlapping exons")
                continue
            gene_id = record["gene_id"]
            info = self.gene_info.get(gene_id, {})
            gene = genes.get(gene_id)
            if gene is None:
                gene = genes[gene_id] = Gene(id=gene_id, chrom=self.chrom,
                                             strand=info.get("strand") or record["strand"],
                                             name=info.get("name") or gene_id, biotype=info.get("biotype", ""))
            if record["strand"] != gene.strand:
                report.skip(f"transcript {transcript_id} on strand {record['strand']}, its gene {gene_id} on "
                            f"{gene.strand}", file=source, record=where, kind="inconsistent transcript")
                continue
            gene.transcripts.append(Transcript(
                id=transcript_id, gene_id=gene_id, chrom=self.chrom, strand=record["strand"],
                exons=tuple((s, e) for s, e in merged), tags=frozenset(record["tags"]),
                biotype=record["biotype"] or info.get("biotype", "")))
        out = [g for g in genes.values() if g.transcripts]
        out.sort(key=lambda g: (g.start, g.end, g.id))
        return out


def _coordinates(columns: list[str]) -> tuple[int, int, str]:
    """(start, end) 0-based end-excluded, and strand; ValueError with the reason if malformed."""
    try:
        start, end = int(columns[3]), int(columns[4])
    except ValueError:
        raise ValueError(f"start/end are not whole numbers: {columns[3]!r}, {columns[4]!r}") from None
    if start < 1:
        raise ValueError(f"start {start} < 1 (coordinates are 1-based)")
    if end < start:
        raise ValueError(f"end {end} before start {start}")
    strand = columns[6]
    if strand not in ("+", "-"):
        raise ValueError(f"strand {strand!r} is neither + nor -")
    return start - 1, end, strand


def _feature_rows(handle: IO[str], source: str, report: sciarch.BadRecords, *,
                  wanted: Callable[[list[str]], bool] | None = None,
                  stop_at_fasta: bool = False) -> Iterator[tuple[int, list[str], int, int, str]]:
    """``(line number, columns, start, end, strand)`` of each feature line of a GTF or GFF3 that
    ``wanted`` keeps; a malformed line (column count, coordinates, strand) is skipped and reported."""
    for number, line in enumerate(handle, start=1):
        if stop_at_fasta and line.startswith("##FASTA"):
            break
        if not line.strip() or line.startswith("#"):
            continue
        columns = line.rstrip("\r\n").split("\t")
        if len(columns) != 9:
            report.skip(f"expected 9 tab-separated columns, found {len(columns)}", file=source,
                        record=f"line {number}", kind="malformed line")
            continue
        if wanted is not None and not wanted(columns):
            continue
        try:
            start, end, strand = _coordinates(columns)
        except ValueError as exc:
            report.skip(str(exc), file=source, record=f"line {number}", kind="malformed line")
            continue
        yield number, columns, start, end, strand


class _Stream:
    """Shared contig-by-contig flushing and unsorted-input detection for GTF and GFF3."""

    def __init__(self, source: str, report: sciarch.BadRecords) -> None:
        self.source = source
        self.report = report
        self.current: _ContigBuilder | None = None
        self.finished_transcripts: set[str] = set()

    def builder(self, chrom: str) -> tuple[_ContigBuilder, tuple[str, list[Gene]] | None]:
        """The builder for ``chrom``, and ``(contig, genes)`` of the previous contig if it just ended."""
        if self.current is not None and self.current.chrom == chrom:
            return self.current, None
        done = self.flush()
        self.current = _ContigBuilder(chrom)
        return self.current, done

    def flush(self) -> tuple[str, list[Gene]] | None:
        if self.current is None:
            return None
        chrom = self.current.chrom
        genes = self.current.build(self.source, self.report)
        self.finished_transcripts.update(self.current.transcripts)
        self.current = None
        return chrom, genes

    def continues_finished(self, transcript_id: str, number: int) -> bool:
        if transcript_id in self.finished_transcripts:
            self.report.skip(f"transcript {transcript_id} continues after its contig's lines ended; sort the "
                             "annotation by contig and position", file=self.source, record=f"line {number}",
                             kind="unsorted annotation")
            return True
        return False


# -- GTF ---------------------------------------------------------------------------------------

_GTF_ATTRIBUTE = re.compile(r'\s*([^\s;"]+)\s+(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))\s*;?')


def gtf_attributes(text: str) -> dict[str, list[str]]:
    """``key "value"; key value;`` -> {key: [values]} (``tag`` repeats)."""
    out: dict[str, list[str]] = {}
    for match in _GTF_ATTRIBUTE.finditer(text):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        out.setdefault(match.group(1), []).append(value)
    return out


def read_gtf(path: str | os.PathLike, report: sciarch.BadRecords | None = None) -> Iterator[tuple[str, list[Gene]]]:
    """Stream a GTF (GENCODE/Ensembl style), yielding ``(contig, genes)`` as each contig's lines end."""
    source = str(path)
    report = report if report is not None else sciarch.BadRecords(source=source)
    stream = _Stream(source, report)

    def wanted(columns: list[str]) -> bool:
        feature = columns[2].lower()
        return feature in ("exon", "gene") or feature in TRANSCRIPT_FEATURES

    with open_text(path) as handle:
        for number, columns, start, end, strand in _feature_rows(handle, source, report, wanted=wanted):
            feature = columns[2].lower()
            attrs = gtf_attributes(columns[8])
            gene_id = (attrs.get("gene_id") or [""])[0]
            if not gene_id:
                report.skip("no gene_id attribute", file=source, record=f"line {number}", kind="malformed line")
                continue
            builder, done = stream.builder(columns[0])
            if done is not None and done[1]:
                yield done
            gene_name = (attrs.get("gene_name") or attrs.get("gene") or [""])[0]
            gene_type = (attrs.get("gene_type") or attrs.get("gene_biotype") or [""])[0]
            if feature == "gene":
                builder.gene(gene_id, name=gene_name, biotype=gene_type, strand=strand)
                continue
            transcript_id = (attrs.get("transcript_id") or [""])[0]
            if not transcript_id:
                report.skip(f"{feature} line without a transcript_id attribute", file=source,
                            record=f"line {number}", kind="malformed line")
                continue
            if stream.continues_finished(transcript_id, number):
                continue
            builder.gene(gene_id, name=gene_name, biotype=gene_type)
            record = builder.transcript(transcript_id, gene_id, strand, number)
            record["tags"].update(normalise_tag(t) for t in attrs.get("tag", ()))
            record["biotype"] = record["biotype"] or (attrs.get("transcript_type") or
                                                      attrs.get("transcript_biotype") or [""])[0]
            if feature == "exon":
                record["exons"].append((start, end))
    done = stream.flush()
    if done is not None and done[1]:
        yield done


# -- GFF3 --------------------------------------------------------------------------------------


def gff3_attributes(text: str) -> dict[str, list[str]]:
    """``key=v1,v2;key=v`` -> {key: [values]}, percent-decoded."""
    out: dict[str, list[str]] = {}
    for item in text.strip().strip(";").split(";"):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep:
            continue
        out.setdefault(key.strip(), []).extend(unquote(v) for v in value.split(","))
    return out


def _strip_prefix(identifier: str) -> str:
    for prefix in ("gene:", "transcript:"):
        if identifier.startswith(prefix):
            return identifier[len(prefix):]
    return identifier


def read_gff3(path: str | os.PathLike, report: sciarch.BadRecords | None = None) -> Iterator[tuple[str, list[Gene]]]:
    """Stream a GFF3 (GENCODE, Ensembl or RefSeq style), yielding ``(contig, genes)`` per contig.

    Genes are features without a ``Parent``; transcripts are their children that have exons
    (``mRNA``, ``transcript``, ``lnc_RNA``, ...); exons name their transcript(s) in ``Parent``. An
    exon whose parent is the gene itself is read as a one-transcript gene.
    """
    source = str(path)
    report = report if report is not None else sciarch.BadRecords(source=source)
    stream = _Stream(source, report)
    features: dict[str, dict] = {}
    pending_exons: dict[str, list[tuple[int, int, str, int]]] = {}

    def resolve() -> tuple[str, list[Gene]] | None:
        builder = stream.current
        if builder is None:
            return None
        cyclic = _parent_cycles(features, source, report)
        for parent, exons in pending_exons.items():
            info = features.get(parent)
            line = exons[0][3]
            if parent in cyclic:
                continue  # the cycle itself was reported, once per feature in it
            if info is None:
                report.skip(f"exon Parent {parent!r} is not defined on this contig", file=source,
                            record=f"line {line}", kind="undefined parent")
                continue
            if info["parents"]:
                gene_key = info["parents"][0]
                gene_info = features.get(gene_key, {})
                transcript_id, gene_attrs = info["id"], gene_info.get("attrs", {})
                gene_id = _first(gene_attrs, "gene_id") or _first(info["attrs"], "gene_id") or _strip_prefix(gene_key)
            else:  # exons hang directly off a gene
                gene_attrs, transcript_id = info["attrs"], info["id"]
                gene_id = _first(gene_attrs, "gene_id") or _strip_prefix(parent)
            builder.gene(gene_id, name=_first(gene_attrs, "Name", "gene_name", "gene") or gene_id,
                         biotype=_first(gene_attrs, "gene_type", "gene_biotype", "biotype"))
            if stream.continues_finished(transcript_id, line):
                continue
            for start, end, strand, number in exons:
                record = builder.transcript(transcript_id, gene_id, strand, number)
                record["exons"].append((start, end))
            record["tags"].update(normalise_tag(t) for t in info["attrs"].get("tag", ()))
            if _first(info["attrs"], "Ensembl_canonical", "is_canonical") in ("1", "true"):
                record["tags"].add("ensembl_canonical")
            record["biotype"] = _first(info["attrs"], "transcript_type", "transcript_biotype", "biotype") or info["type"]
        pending_exons.clear()
        features.clear()
        return stream.flush()

    with open_text(path) as handle:
        for number, columns, start, end, strand in _feature_rows(handle, source, report, stop_at_fasta=True):
            if stream.current is None or stream.current.chrom != columns[0]:
                done = resolve()
                if done is not None and done[1]:
                    yield done
                stream.builder(columns[0])
            attrs = gff3_attributes(columns[8])
            kind = columns[2]
            parents = attrs.get("Parent", [])
            if kind.lower() == "exon":
                if not parents:
                    report.skip("exon without a Parent attribute", file=source, record=f"line {number}",
                                kind="malformed line")
                    continue
                for parent in parents:
                    pending_exons.setdefault(parent, []).append((start, end, strand, number))
                continue
            identifier = _first(attrs, "ID")
            if identifier and identifier not in features:
                features[identifier] = {"type": kind, "parents": parents, "attrs": attrs, "line": number,
                                        "id": _first(attrs, "transcript_id") or _strip_prefix(identifier)}
    done = resolve()
    if done is not None and done[1]:
        yield done


def _parent_cycles(features: dict[str, dict], source: str, report: sciarch.BadRecords) -> set[str]:
    """IDs of the features whose ``Parent`` chain comes back to itself; each is reported (with its
    line) and skipped, with everything below it. A chain is followed through first parents."""
    state: dict[str, int] = {}  # 1: on the chain being followed, 2: known to end at a root
    cyclic: set[str] = set()
    for start in features:
        chain: list[str] = []
        node: str | None = start
        while node is not None and node in features and state.get(node) is None:
            state[node] = 1
            chain.append(node)
            parents = features[node]["parents"]
            node = parents[0] if parents else None
        if node is not None and state.get(node) == 1:  # came back to a feature on this chain
            loop = chain[chain.index(node):]
            shown = " -> ".join(loop + [node])
            for member in loop:
                cyclic.add(member)
                report.skip(f"feature {member} is its own ancestor (Parent cycle {shown})", file=source,
                            record=f"line {features[member]['line']}", kind="Parent cycle")
        below_cycle = node in cyclic
        for member in chain:
            state[member] = 2
            if below_cycle and member not in cyclic:
                cyclic.add(member)
                report.skip(f"feature {member} descends from a Parent cycle (through {node})", file=source,
                            record=f"line {features[member]['line']}", kind="Parent cycle")
    return cyclic


def _first(attrs: dict[str, list[str]], *keys: str) -> str:
    for key in keys:
        values = attrs.get(key)
        if values and values[0]:
            return values[0]
    return ""


def read_annotation(path: str | os.PathLike, *, format: AnnotationFormat = "auto",
                    report: sciarch.BadRecords | None = None) -> Iterator[tuple[str, list[Gene]]]:
    """Stream a GTF, GFF3 or SpliceAI annotation table contig by contig (see :func:`read_gtf`,
    :func:`read_gff3`, :func:`read_spliceai_table`)."""
    fmt = detect_format(path) if format == "auto" else format
    if fmt == "gtf":
        return read_gtf(path, report)
    if fmt == "spliceai":
        return read_spliceai_table(path, report)
    if fmt == "gff3":
        return read_gff3(path, report)
    raise sciarch.UsageError(f"{path}: {fmt} is read with read_genbank (it carries its own sequence)")


def read_spliceai_table(path: str | os.PathLike,
                        report: sciarch.BadRecords | None = None) -> Iterator[tuple[str, list[Gene]]]:
    """SpliceAI's gene table, contig by contig: one transcript per gene, tab-separated columns
    ``#NAME CHROM STRAND TX_START TX_END EXON_START EXON_END`` with 0-based starts, 1-based
    (end-excluded) ends and comma-separated exon lists (each with a trailing comma), as in the
    ``grch37.txt``/``grch38.txt`` files the ``spliceai`` package ships. Each transcript counts as its
    gene's canonical one; its span is its exons' (in SpliceAI's files ``TX_START``/``TX_END`` always
    equal the first exon's start and the last exon's end). Malformed rows are skipped and reported
    with their line numbers."""
    source = str(path)
    report = report if report is not None else sciarch.BadRecords(source=source)
    contigs: dict[str, list[Gene]] = {}
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            columns = line.rstrip("\r\n").split("\t")
            if number == 1:
                if tuple(columns[:7]) != SPLICEAI_TABLE_COLUMNS:
                    raise sciarch.DataError(f"not a SpliceAI annotation table: the header must be "
                                            f"{' '.join(SPLICEAI_TABLE_COLUMNS)}", file=path, record="line 1")
                continue
            if not line.strip():
                continue

            def bad(problem: str, number: int = number) -> None:
                report.skip(problem, file=source, record=f"line {number}", kind="malformed line")

            if len(columns) < 7:
                bad(f"expected 7 tab-separated columns, found {len(columns)}")
                continue
            name, chrom, strand, tx_start, tx_end, starts, ends = columns[:7]
            if strand not in ("+", "-"):
                bad(f"strand {strand!r} is neither + nor -")
                continue
            try:
                lo, hi = int(tx_start), int(tx_end)
                exon_starts = [int(v) for v in starts.split(",") if v.strip()]
                exon_ends = [int(v) for v in ends.split(",") if v.strip()]
            except ValueError:
                bad("a coordinate is not a whole number")
                continue
            exons = tuple(zip(exon_starts, exon_ends, strict=False))
            if not exons or len(exon_starts) != len(exon_ends):
                bad(f"{len(exon_starts)} exon starts and {len(exon_ends)} exon ends")
                continue
            if any(s >= e for s, e in exons) or any(exons[i][1] > exons[i + 1][0] for i in range(len(exons) - 1)):
                bad("exons reversed, unsorted or overlapping")
                continue
            if not (lo <= exons[0][0] and exons[-1][1] <= hi) or lo < 0:
                bad(f"exons run outside the transcript {lo}-{hi}")
                continue
            transcript = Transcript(id=name, gene_id=name, chrom=chrom, strand=strand, exons=exons,
                                    tags=frozenset({"ensembl_canonical"}))
            contigs.setdefault(chrom, []).append(Gene(id=name, chrom=chrom, strand=strand,
                                                      transcripts=[transcript], name=name))
    yield from contigs.items()


# -- GenBank -----------------------------------------------------------------------------------


def read_genbank(path: str | os.PathLike,
                 report: sciarch.BadRecords | None = None) -> tuple[SequenceDict, dict[str, list[Gene]]]:
    """Read GenBank records: their sequences (as a genome) and their genes, by record.

    A gene's transcripts are its ``mRNA`` features; a gene without any takes its ``CDS`` features
    instead (their ``join`` gives the coding exons, so the first and last exon end at the start
    and stop codons, but every splice site is right). Features are grouped into genes by their
    ``gene`` qualifier, else ``locus_tag``. Joins that reach into other records, and features on
    both strands, are skipped and reported.
    """
    seq_io = sciarch.require("Bio.SeqIO", "genomics")
    source = str(path)
    report = report if report is not None else sciarch.BadRecords(source=source)
    sequences: dict[str, str] = {}
    genes_by_contig: dict[str, list[Gene]] = {}
    with open_text(path) as handle:
        try:
            records = list(seq_io.parse(handle, "genbank"))
        except Exception as exc:  # Biopython raises ValueError and its own parser errors
            raise sciarch.DataError(f"cannot read GenBank ({type(exc).__name__}: {exc})", file=path) from None
    if not records:
        raise sciarch.DataError("no GenBank records (does the file start with LOCUS?)", file=path)
    for record in records:
        contig = record.id if record.id and record.id != "<unknown id>" else record.name
        try:
            sequences[contig] = str(record.seq)
        except Exception:  # UndefinedSequenceError: a CONTIG record with no sequence of its own
            report.skip("record has no sequence", file=source, record=f"record {contig}", kind="no sequence")
            continue
        grouped: dict[str, dict[str, list]] = {}
        names: dict[str, str] = {}
        for number, feature in enumerate(record.features):
            if feature.type not in ("mRNA", "CDS", "gene"):
                continue
            quals = feature.qualifiers
            key = (quals.get("gene") or quals.get("locus_tag") or [f"{feature.type}{number}"])[0]
            if feature.type == "gene":
                names.setdefault(key, (quals.get("gene") or quals.get("locus_tag") or [key])[0])
                continue
            grouped.setdefault(key, {"mRNA": [], "CDS": []})[feature.type].append((number, feature))
        genes: list[Gene] = []
        for key, kinds in grouped.items():
            chosen = kinds["mRNA"] or kinds["CDS"]
            transcripts = []
            for k, (number, feature) in enumerate(chosen):
                where = f"record {contig} feature {number + 1} ({feature.type} {key})"
                parts = feature.location.parts
                if any(getattr(p, "ref", None) not in (None, record.id, record.name) for p in parts):
                    report.skip("join reaches into another record", file=source, record=where,
                                kind="remote join")
                    continue
                strands = {p.strand for p in parts}
                if len(strands) != 1 or next(iter(strands)) not in (1, -1):
                    report.skip(f"exons on mixed or unknown strands {sorted(map(str, strands))}", file=source,
                                record=where, kind="inconsistent transcript")
                    continue
                exons = sorted((int(p.start), int(p.end)) for p in parts)
                merged: list[list[int]] = []
                for s, e in exons:
                    if merged and s < merged[-1][1]:
                        merged = []
                        report.skip("exons overlap", file=source, record=where, kind="overlapping exons")
                        break
                    if merged and s == merged[-1][1]:
                        merged[-1][1] = e
                    else:
                        merged.append([s, e])
                if not merged:
                    continue
                quals = feature.qualifiers
                tid = (quals.get("transcript_id") or quals.get("protein_id") or [f"{key}.{feature.type}{k + 1}"])[0]
                transcripts.append(Transcript(id=tid, gene_id=key, chrom=contig,
                                              strand="+" if next(iter(strands)) == 1 else "-",
                                              exons=tuple((s, e) for s, e in merged),
                                              biotype=feature.type))
            strand_set = {t.strand for t in transcripts}
            if len(strand_set) > 1:
                report.skip("gene has transcripts on both strands", file=source, record=f"record {contig} gene {key}",
                            kind="inconsistent transcript")
                continue
            if transcripts:
                genes.append(Gene(id=key, chrom=contig, strand=transcripts[0].strand, transcripts=transcripts,
                                  name=names.get(key, key), biotype="protein_coding" if kinds["CDS"] else ""))
        genes.sort(key=lambda g: (g.start, g.end, g.id))
        genes_by_contig.setdefault(contig, []).extend(genes)
    return SequenceDict(sequences, source=source), genes_by_contig
