"""A hand-made genome: one contig with a plus-strand and a minus-strand gene whose sites are known.

``chrT`` is 80 bases. Coordinates below are 1-based, inclusive, as in the GTF.

- ``PLUS`` (+): exons 5-10, 21-30, 41-45. Donors (last exon base before an intron) at 10 and 30;
  acceptors (first exon base after an intron) at 21 and 41. Introns 11-20 and 31-40 start with GT
  and end with AG.
- ``MINUS`` (-): exons 60-66 (first, read right to left) and 48-52. The donor is 60 (the last base
  of the first exon in the direction of transcription), the acceptor 52. The intron 53-59 reads,
  on the minus strand, GT...AG: the genome has AC at 58-59 and CT at 53-54.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def _genome() -> str:
    bases = list("ACGTTGCA" * 10)  # 80 bases, no accidental meaning
    def put(pos1: int, text: str) -> None:
        bases[pos1 - 1:pos1 - 1 + len(text)] = list(text)
    put(11, "GT")   # PLUS intron 1 start
    put(19, "AG")   # PLUS intron 1 end
    put(31, "GT")   # PLUS intron 2 start
    put(39, "AG")   # PLUS intron 2 end
    put(58, "AC")   # MINUS intron start (reverse complement: GT)
    put(53, "CT")   # MINUS intron end (reverse complement: AG)
    put(70, "R")    # an IUPAC code: read as N
    return "".join(bases)


GENOME = _genome()

GTF = """\
#!genome-build test
chrT\ttest\tgene\t5\t45\t.\t+\t.\tgene_id "PLUS"; gene_name "PlusGene"; gene_type "protein_coding";
chrT\ttest\ttranscript\t5\t45\t.\t+\t.\tgene_id "PLUS"; transcript_id "PLUS.1"; tag "basic";
chrT\ttest\texon\t5\t10\t.\t+\t.\tgene_id "PLUS"; transcript_id "PLUS.1";
chrT\ttest\texon\t21\t30\t.\t+\t.\tgene_id "PLUS"; transcript_id "PLUS.1";
chrT\ttest\texon\t41\t45\t.\t+\t.\tgene_id "PLUS"; transcript_id "PLUS.1";
chrT\ttest\tCDS\t7\t43\t.\t+\t0\tgene_id "PLUS"; transcript_id "PLUS.1";
chrT\ttest\tgene\t48\t66\t.\t-\t.\tgene_id "MINUS"; gene_name "MinusGene"; gene_type "protein_coding";
chrT\ttest\texon\t60\t66\t.\t-\t.\tgene_id "MINUS"; transcript_id "MINUS.1";
chrT\ttest\texon\t48\t52\t.\t-\t.\tgene_id "MINUS"; transcript_id "MINUS.1";
"""

GFF3 = """\
##gff-version 3
chrT\ttest\tgene\t5\t45\t.\t+\t.\tID=gene:PLUS;Name=PlusGene;biotype=protein_coding
chrT\ttest\tmRNA\t5\t45\t.\t+\t.\tID=transcript:PLUS.1;Parent=gene:PLUS;tag=basic
chrT\ttest\texon\t5\t10\t.\t+\t.\tParent=transcript:PLUS.1
chrT\ttest\texon\t21\t30\t.\t+\t.\tParent=transcript:PLUS.1
chrT\ttest\texon\t41\t45\t.\t+\t.\tParent=transcript:PLUS.1
chrT\ttest\tgene\t48\t66\t.\t-\t.\tID=gene:MINUS;Name=MinusGene
chrT\ttest\tmRNA\t48\t66\t.\t-\t.\tID=transcript:MINUS.1;Parent=gene:MINUS
chrT\ttest\texon\t48\t52\t.\t-\t.\tParent=transcript:MINUS.1
chrT\ttest\texon\t60\t66\t.\t-\t.\tParent=transcript:MINUS.1
"""


@pytest.fixture
def genome_text() -> str:
    """The hand-made contig's sequence."""
    return GENOME


@pytest.fixture
def hand_genome(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(FASTA, GTF, GFF3) of the hand-made genome."""
    fasta = tmp_path / "genome.fa"
    fasta.write_text(">chrT test contig\n" + "\n".join(GENOME[i:i + 30] for i in range(0, 80, 30)) + "\n")
    gtf = tmp_path / "genes.gtf"
    gtf.write_text(GTF)
    gff = tmp_path / "genes.gff3"
    gff.write_text(GFF3)
    return fasta, gtf, gff
