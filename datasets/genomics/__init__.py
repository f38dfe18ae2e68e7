"""Genomics data sources: reference FASTA, GTF/GFF3/GenBank annotation, VCF, SpliceAI-style labels.

- :mod:`.reference`: FASTA with random access (pyfaidx), plain, bgzip or gzip.
- :mod:`.annotation`: GTF and GFF3 streamed contig by contig, GenBank through Biopython;
  genes, transcripts, exons, canonical transcripts.
- :mod:`.labels`: splice-site labels and windows as SpliceAI defines them; chromosome split.
- :mod:`.prepare`: preparation into sharded, memory-mapped arrays with a manifest.
- :mod:`.simulate`: a gene simulator (the embedded default, no download).
- :mod:`.vcf`: VCF reading and writing for variant scoring.
"""

from .annotation import Gene, Transcript, detect_format, read_annotation, read_genbank, read_gff3, read_gtf
from .labels import (
                     ACCEPTOR,
                     DONOR,
                     NONE,
                     PADDING,
                     SPLICEAI_TEST_CHROMOSOMES,
                     LabelledGene,
                     label_gene,
                     splice_sites,
                     split_of,
)
from .prepare import SpliceShards, prepare_splice_sites
from .reference import FastaReference, Reference, SequenceDict, open_reference, write_fasta
from .sequence import decode, encode, one_hot, reverse_complement

__all__ = [
    "ACCEPTOR", "DONOR", "NONE", "PADDING", "SPLICEAI_TEST_CHROMOSOMES", "FastaReference", "Gene", "LabelledGene",
    "Reference", "SequenceDict", "SpliceShards", "Transcript", "decode", "detect_format", "encode", "label_gene",
    "one_hot", "open_reference", "prepare_splice_sites", "read_annotation", "read_genbank", "read_gff3",
    "read_gtf", "reverse_complement", "splice_sites", "split_of", "write_fasta",
]
