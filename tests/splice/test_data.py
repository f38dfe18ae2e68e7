"""The DataModule: windows, one-hot with N as zeros, SpliceAI's chromosome split, user files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sciarch
import torch
from sciarch_datasets.genomics.simulate import write_simulation
from sciarch_splice.data import SpliceSites


@pytest.fixture(scope="module")
def tiny_genome(tmp_path_factory):
    return write_simulation(tmp_path_factory.mktemp("sim") / "g", seed=5, chromosomes=4, genes_per_chromosome=3)


def test_windows_are_one_hot_with_labels_and_split_by_chromosome(tmp_path, tiny_genome):
    fasta, gtf = tiny_genome
    data = SpliceSites(str(fasta), str(gtf), block_length=300, context=100, val_chromosomes=["chr2"],
                       prepared=str(tmp_path / "prep"), batch_size=4)
    data.prepare_data()
    data.setup()
    chroms = {}
    for split in ("train", "val", "test"):
        rows = data.splits[split]
        chroms[split] = {data.shards.shards[int(s)].chrom for s in rows[:, 0]}
    assert chroms == {"train": {"chr4"}, "val": {"chr2"}, "test": {"chr1", "chr3"}}
    x, y = next(iter(data.train_dataloader()))
    assert x.shape == (4, 4, 400) and y.shape == (4, 300)
    assert set(x.sum(1).unique().tolist()) <= {0.0, 1.0}  # one-hot, N as all zeros
    first_codes, first_labels = data.dataset("train")[0]  # a gene's first window
    assert (first_codes[:50] == 4).all() and (first_labels[:1] >= 0).all()  # its left flank is N, then the gene
    test_labels = torch.cat([b[1] for b in data.test_dataloader()])
    assert {1, 2} <= set(test_labels.unique().tolist()) and -1 in test_labels
    assert data.hints() == {"context": 100}


def test_limit_genes_keeps_whole_genes(tmp_path, tiny_genome):
    fasta, gtf = tiny_genome
    data = SpliceSites(str(fasta), str(gtf), block_length=300, context=100, val_chromosomes=["chr2"],
                       prepared=str(tmp_path / "prep"), limit_train_genes=1, limit_eval_genes=1)
    data.setup()
    for split in ("train", "val", "test"):
        genes = set()
        for shard, start in data.splits[split]:
            blocks = np.asarray(data.shards.shards[int(shard)].blocks)
            genes.add((int(shard), int(blocks[blocks[:, 0] == start][0, 1])))
        assert len(genes) == 1  # one gene, every one of its windows
        shard, gene = genes.pop()
        assert len(data.splits[split]) == data.shards.shards[shard].genes[gene]["blocks"]
    labels = np.concatenate([data.shards.window(int(a), int(b))[1] for a, b in data.splits["test"]])
    assert (labels == 1).any() and (labels == 2).any()


def test_a_fasta_without_annotation_and_missing_splits_are_usage_errors(tmp_path, tiny_genome):
    fasta, gtf = tiny_genome
    with pytest.raises(sciarch.UsageError, match="annotation"):
        SpliceSites(str(fasta), None)
    data = SpliceSites(str(fasta), str(gtf), block_length=300, context=100, test_chromosomes=["chrX"],
                       val_chromosomes=["chr2"], prepared=str(tmp_path / "prep"))
    with pytest.raises(sciarch.DataError, match="no test genes"):
        data.setup()


def one_record_genbank(tmp_path, fasta, gtf, chrom: str = "chr1"):
    """One contig of the simulated genome and its genes as a one-record GenBank file (mRNA joins)."""
    from Bio import SeqIO
    from Bio.Seq import Seq
    from Bio.SeqFeature import CompoundLocation, FeatureLocation, SeqFeature
    from Bio.SeqRecord import SeqRecord
    from sciarch_datasets.genomics import read_gtf

    sequence = "".join(line.strip() for line in _fasta_record(fasta, chrom))
    record = SeqRecord(Seq(sequence), id="CLONE1.1", name="CLONE1", description="one record",
                       annotations={"molecule_type": "DNA"})
    names = []
    for contig, genes in read_gtf(gtf):
        for gene in genes if contig == chrom else ():
            exons = gene.canonical().exons
            strand = 1 if gene.strand == "+" else -1
            parts = [FeatureLocation(s, e, strand=strand) for s, e in exons]
            location = CompoundLocation(parts if strand == 1 else parts[::-1]) if len(parts) > 1 else parts[0]
            record.features.append(SeqFeature(location, type="mRNA", qualifiers={"gene": [gene.name]}))
            names.append(gene.name)
    path = tmp_path / "clone.gbk"
    SeqIO.write(record, path, "genbank")
    return path, names


def _fasta_record(fasta, chrom):
    keep = False
    for line in Path(fasta).read_text().splitlines(keepends=True):
        if line.startswith(">"):
            keep = line[1:].split()[0] == chrom
        elif keep:
            yield line


def test_a_one_record_genbank_file_is_split_by_gene(tmp_path, tiny_genome):
    """The documented one-liner (--set data.args.annotation=my_genes.gbk) on a single-record file."""
    fasta, gtf = tiny_genome
    gbk, names = one_record_genbank(tmp_path, fasta, gtf)
    assert len(names) == 3
    data = SpliceSites(None, str(gbk), block_length=300, context=100, prepared=str(tmp_path / "prep"))
    data.setup()
    assert data.split_mode == "gene"
    genes = {}
    for split in ("train", "val", "test"):
        assert len(data.splits[split])
        for shard, start in data.splits[split]:
            blocks = np.asarray(data.shards.shards[int(shard)].blocks)
            gene = int(blocks[blocks[:, 0] == start][0, 1])
            genes.setdefault(gene, set()).add(split)
    assert len(genes) == 3 and all(len(s) == 1 for s in genes.values())  # each gene in one split only
    # naming the held-out contig keeps SpliceAI's chromosome split (and its clear error here)
    named = SpliceSites(None, str(gbk), block_length=300, context=100, prepared=str(tmp_path / "prep"),
                        test_chromosomes=["CLONE1.1"])
    with pytest.raises(sciarch.DataError, match="no train genes"):
        named.setup()
