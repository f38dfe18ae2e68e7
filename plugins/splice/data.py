"""Splice-site windows from a genome and its annotation, or from the gene simulator by default.

``SpliceSites`` prepares (once, cached by the inputs' identity and the settings) the genome and
annotation into memory-mapped shards (:func:`sciarch_datasets.genomics.prepare_splice_sites`),
splits genes by chromosome as SpliceAI does (test: chr1, 3, 5, 7, 9), and serves SpliceAI windows:
``SL`` labelled positions with ``context/2`` bases on each side, one-hot encoded (N = zeros).

With no ``fasta``/``annotation`` it simulates a genome (:mod:`sciarch_datasets.genomics.simulate`);
give a FASTA and a GTF/GFF3 (or a GenBank file alone) to train on your own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import numpy as np
import sciarch
import torch
from sciarch import BadRecords
from sciarch_datasets.genomics.labels import SPLICEAI_TEST_CHROMOSOMES, split_of
from sciarch_datasets.genomics.prepare import SpliceShards, prepare_splice_sites
from torch.utils.data import Dataset

#: files larger than this are identified by path, size and modification time rather than hashed
HASH_LIMIT = 256 << 20


def file_identity(path: str | os.PathLike) -> dict[str, Any]:
    """What identifies an input for the cache: its content hash, or for big files its stat."""
    path = Path(path)
    if not path.is_file():
        raise sciarch.DataError("no such file", file=path)
    stat = path.stat()
    if stat.st_size <= HASH_LIMIT:
        from sciarch import hash_file

        return {"sha256": hash_file(path)}
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def gene_splits(gene_ids: list[str], test_fraction: float, val_fraction: float) -> dict[str, str]:
    """``train``/``val``/``test`` per gene id: the ids ordered by a hash (independent of file order and
    of the run's seed), the first ``test_fraction`` (at least one) held out for testing, the next
    ``val_fraction`` (at least one) for validation, the rest for training."""
    import zlib

    ids = sorted(set(gene_ids), key=lambda g: (zlib.crc32(g.encode()), g))
    n_test = max(1, round(test_fraction * len(ids)))
    n_val = max(1, round(val_fraction * len(ids)))
    return {g: "test" if i < n_test else "val" if i < n_test + n_val else "train" for i, g in enumerate(ids)}


class SpliceWindows(Dataset):
    """Windows ``(codes (SL + CL,) uint8, labels (SL,) int64)`` at the given ``(shard, start)`` rows."""

    def __init__(self, shards: SpliceShards, index: np.ndarray) -> None:
        self.shards = shards
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        shard, start = self.index[i]
        codes, labels = self.shards.window(int(shard), int(start))
        return torch.from_numpy(codes.copy()), torch.from_numpy(labels.astype(np.int64))


def collate_windows(items: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack windows; one-hot ``(B, 4, L)`` float with N as zeros, labels ``(B, SL)``."""
    codes = torch.stack([c for c, _ in items]).long()
    x = torch.nn.functional.one_hot(codes, 5)[..., :4].permute(0, 2, 1).float()
    return x.contiguous(), torch.stack([y for _, y in items])


class SpliceSites(pl.LightningDataModule):
    """SpliceAI training windows from FASTA + GTF/GFF3, a GenBank file, or the gene simulator.

    Args:
        fasta: reference FASTA (plain, bgzip or gzip). None with ``annotation`` None: simulate.
        annotation: GTF, GFF3 or GenBank (GenBank needs no FASTA: it carries its sequence).
        block_length: ``SL``, labelled positions per window (SpliceAI: 5000).
        context: ``CL``, bases of context per window, ``CL/2`` each side (at least the model's).
        flank: context outside the gene: ``N`` (SpliceAI) or the real ``genome``.
        isoforms: label the ``canonical`` transcript (SpliceAI) or ``all`` transcripts' sites.
        biotypes: keep genes of these types (e.g. ``[protein_coding]``); None keeps all.
        test_chromosomes: held out for testing (default SpliceAI's chr1, 3, 5, 7, 9).
        val_chromosomes: held out for validation; None: ``val_fraction`` of the other genes.
        split_by: ``chromosome`` (SpliceAI), ``gene`` (a fixed ``test_fraction`` and ``val_fraction`` of
            the genes by a hash of their ids), or ``auto``: by chromosome, unless neither
            ``test_chromosomes`` nor ``val_chromosomes`` was given and that split leaves a split without
            genes (a one-record GenBank file, contigs not named chr1…), then by gene, and it says so.
        test_fraction: the genes held out for testing when splitting by gene.
        simulate_chromosomes, simulate_genes, simulate_seed: the simulated genome's size and seed.
        limit_train_genes, limit_eval_genes: use the windows of at most this many genes per split (a
            fixed random subset of genes; every labelled gene has an acceptor and a donor, so metrics stay
            defined however small the subset).
        prepared: folder to prepare into (default: the sciarch cache, keyed by inputs and settings).
        strict: stop at the first malformed annotation record instead of skipping it.
    """

    provides = ("context",)

    def __init__(self, fasta: str | None = None, annotation: str | None = None, *, block_length: int = 5000,
                 context: int = 10000, flank: Literal["N", "genome"] = "N",
                 isoforms: Literal["canonical", "all"] = "canonical", biotypes: list[str] | None = None,
                 test_chromosomes: list[str] | None = None, val_chromosomes: list[str] | None = None,
                 val_fraction: float = 0.1, split_by: Literal["auto", "chromosome", "gene"] = "auto",
                 test_fraction: float = 0.2, simulate_chromosomes: int = 20, simulate_genes: int = 15,
                 simulate_seed: int = 0, batch_size: int = 8, eval_batch_size: int | None = None,
                 num_workers: int = 0, limit_train_genes: int | None = None, limit_eval_genes: int | None = None,
                 prepared: str | None = None, strict: bool = False, seed: int = 0) -> None:
        super().__init__()
        if fasta is not None and annotation is None:
            raise sciarch.UsageError("a FASTA needs its annotation (data.args.annotation: a GTF or GFF3); "
                                     "give neither to use the simulated genome")
        if context % 2:
            raise sciarch.UsageError(f"context must be even, got {context}")
        self.fasta, self.annotation = fasta, annotation
        self.block_length, self.context, self.flank, self.isoforms = block_length, context, flank, isoforms
        self.biotypes = list(biotypes) if biotypes else None
        self.split_by, self.test_fraction = split_by, test_fraction
        self.chromosomes_given = bool(test_chromosomes) or bool(val_chromosomes)
        self.test_chromosomes = list(test_chromosomes) if test_chromosomes else list(SPLICEAI_TEST_CHROMOSOMES)
        self.val_chromosomes = list(val_chromosomes) if val_chromosomes else None
        self.val_fraction = val_fraction
        self.simulate_chromosomes, self.simulate_genes = simulate_chromosomes, simulate_genes
        self.simulate_seed = simulate_seed
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size or batch_size
        self.num_workers = num_workers
        self.limit_train_genes, self.limit_eval_genes = limit_train_genes, limit_eval_genes
        self.prepared, self.strict, self.seed = prepared, strict, seed
        self.shards: SpliceShards | None = None
        self._reported = False
        self.splits: dict[str, np.ndarray] = {}

    def hints(self) -> dict[str, Any]:
        return {"context": self.context}

    # -- preparation -------------------------------------------------------------------------

    def inputs(self) -> tuple[Path | None, Path]:
        """``(fasta, annotation)``: the user's, or the simulated genome's (made once into the cache)."""
        if self.annotation is None:
            from sciarch_datasets.genomics.simulate import simulated_genome

            return simulated_genome(seed=self.simulate_seed, chromosomes=self.simulate_chromosomes,
                                    genes_per_chromosome=self.simulate_genes)
        return (Path(self.fasta) if self.fasta else None), Path(self.annotation)

    def prepared_path(self) -> Path:
        fasta, annotation = self.inputs()
        if self.prepared:
            return Path(self.prepared)
        settings = {"block_length": self.block_length, "context": self.context, "flank": self.flank,
                    "isoforms": self.isoforms, "biotypes": self.biotypes, "strict": self.strict, "format": 1}
        key = sciarch.content_key(settings, file_identity(annotation), file_identity(fasta) if fasta else None)
        return sciarch.cache_dir("splice", "prepared") / key

    def prepare_data(self) -> None:
        out = self.prepared_path()
        if (out / "manifest.json").is_file():
            # a warm cache reports the records the first run skipped, as that run did
            bad = json.loads((out / "manifest.json").read_text()).get("bad_records") or {}
            report = BadRecords.from_dict(bad, strict=self.strict)
            if not self._reported:  # once per data module (fit and test both prepare)
                report.show()
            self._reported = True
            return
        self._reported = True
        fasta, annotation = self.inputs()
        sciarch.console.print(f"preparing splice-site windows from {annotation} into {out}")
        prepare_splice_sites(annotation, out, fasta=fasta, block_length=self.block_length, context=self.context,
                             flank=self.flank, isoforms=self.isoforms, biotypes=self.biotypes, strict=self.strict)

    def setup(self, stage: str | None = None) -> None:
        if self.shards is not None:
            return
        out = self.prepared_path()
        if not (out / "manifest.json").is_file():
            self.prepare_data()
        shards = SpliceShards(out)
        if shards.block_length != self.block_length or shards.context != self.context:
            raise sciarch.DataError(f"prepared with block_length {shards.block_length}, context {shards.context}; "
                                    f"asked for {self.block_length}, {self.context}", file=out)
        blocks = list(shards.iter_blocks())

        def assign(by_gene: bool) -> dict[str, dict[tuple[int, str], list[tuple[int, int]]]]:
            genes: dict[str, dict[tuple[int, str], list[tuple[int, int]]]] = {"train": {}, "val": {}, "test": {}}
            of_gene = gene_splits([g["id"] for _, _, g in blocks], self.test_fraction, self.val_fraction) if by_gene else {}
            for shard, start, gene in blocks:
                split = (of_gene[gene["id"]] if by_gene else
                         split_of(gene["chrom"], gene["id"], test_chromosomes=self.test_chromosomes,
                                  val_chromosomes=self.val_chromosomes, val_fraction=self.val_fraction))
                genes[split].setdefault((shard, gene["id"]), []).append((shard, start))
            return genes

        by_gene = self.split_by == "gene"
        genes = assign(by_gene)
        if self.split_by == "auto" and not self.chromosomes_given and not all(genes.values()):
            contigs = sorted({gene["chrom"] for _, _, gene in blocks})
            by_gene = True
            genes = assign(True)
            sciarch.console.print(
                f"splitting by gene, not by chromosome: the {len(contigs)} contig(s) with genes "
                f"({', '.join(contigs[:4])}{', ...' if len(contigs) > 4 else ''}) leave a split empty under "
                f"SpliceAI's test chromosomes; {self.test_fraction:.0%} of genes are held out for testing, "
                f"{self.val_fraction:.0%} for validation (held-out genes may share sequence context with training "
                "genes nearby; set data.args.test_chromosomes to hold out whole contigs)")
        self.split_mode = "gene" if by_gene else "chromosome"
        for split, limit in (("train", self.limit_train_genes), ("val", self.limit_eval_genes),
                             ("test", self.limit_eval_genes)):
            chosen = list(genes[split].values())
            if limit is not None and len(chosen) > limit:
                keep = np.sort(np.random.default_rng(12345).choice(len(chosen), size=limit, replace=False))
                chosen = [chosen[i] for i in keep]
            self.splits[split] = np.asarray([row for rows in chosen for row in rows], dtype=np.int64).reshape(-1, 2)
        for split in ("train", "val", "test"):
            if not len(self.splits[split]) and by_gene:
                raise sciarch.DataError(
                    f"no {split} genes when splitting {len(blocks)} windows of "
                    f"{len({(g['chrom'], g['id']) for _, _, g in blocks})} gene(s) by gene (test_fraction "
                    f"{self.test_fraction}, val_fraction {self.val_fraction}): the data need at least three "
                    "annotated genes with introns", file=out)
            if not len(self.splits[split]):
                raise sciarch.DataError(
                    f"no {split} genes (test chromosomes {', '.join(self.test_chromosomes)}, validation "
                    f"{', '.join(self.val_chromosomes) if self.val_chromosomes else f'{self.val_fraction:.0%} of the rest'}"
                    "); set data.args.test_chromosomes / val_chromosomes / val_fraction to fit your contigs",
                    file=out)
        self.shards = shards
        stats = shards.manifest["stats"]
        sciarch.console.print(
            f"splice sites: {stats['genes']} genes, {stats['acceptors']} acceptors, {stats['donors']} donors; "
            f"windows train {len(self.splits['train'])}, val {len(self.splits['val'])}, "
            f"test {len(self.splits['test'])} (SL {self.block_length}, context {self.context})")

    def dataset(self, split: str) -> SpliceWindows:
        self.setup()
        assert self.shards is not None
        return SpliceWindows(self.shards, self.splits[split])

    def train_dataloader(self) -> Any:
        return sciarch.loader(self.dataset("train"), batch_size=self.batch_size, train=True, seed=self.seed,
                              collate_fn=collate_windows, num_workers=self.num_workers)

    def val_dataloader(self) -> Any:
        return sciarch.loader(self.dataset("val"), batch_size=self.eval_batch_size, train=False, collate_fn=collate_windows,
                              num_workers=self.num_workers)

    def test_dataloader(self) -> Any:
        return sciarch.loader(self.dataset("test"), batch_size=self.eval_batch_size, train=False,
                              collate_fn=collate_windows, num_workers=self.num_workers)
