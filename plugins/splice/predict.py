"""Per-base donor and acceptor scores along a genome, written as TSV or bedGraph.

A region is read in blocks of ``SL`` bases, each with the model's ``context/2`` bases of real
genome on either side (N past a contig's ends), on the plus strand, the minus strand (reverse
complemented, then flipped back to genome order) or both. Used by ``sciarch splice predict`` and by
``sciarch predict`` (the task's predictor).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import sciarch
import torch
from sciarch_datasets.genomics.reference import Reference, open_reference
from sciarch_datasets.genomics.sequence import reverse_complement

Strand = Literal["+", "-", "both"]


def parse_region(text: str) -> tuple[str, int | None, int | None]:
    """``chr1:1,000-2,000`` (1-based, inclusive) → ``("chr1", 999, 2000)``; ``chr1`` → whole contig."""
    match = re.fullmatch(r"\s*([^:\s]+)(?::([\d,]+)-([\d,]+))?\s*", text)
    if not match:
        raise sciarch.UsageError(f"region {text!r}: expected CHROM or CHROM:START-END (1-based, inclusive)")
    chrom, start, end = match.groups()
    if start is None:
        return chrom, None, None
    s, e = int(start.replace(",", "")), int(end.replace(",", ""))
    if s < 1 or e < s:
        raise sciarch.UsageError(f"region {text!r}: start must be >= 1 and end >= start")
    return chrom, s - 1, e


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def one_hot_batch(codes: np.ndarray, device: torch.device) -> torch.Tensor:
    """``(B, L)`` codes → ``(B, 4, L)`` float one-hot (N = zeros)."""
    t = torch.from_numpy(np.ascontiguousarray(codes)).long().to(device)
    return torch.nn.functional.one_hot(t, 5)[..., :4].permute(0, 2, 1).float()


@torch.no_grad()
def probabilities(model: torch.nn.Module, codes: np.ndarray, device: torch.device, batch_size: int) -> np.ndarray:
    """Softmax scores ``(B, L − context, 3)`` of code windows ``(B, L)``, in batches."""
    out = []
    for i in range(0, len(codes), batch_size):
        x = one_hot_batch(codes[i:i + batch_size], device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(x)
        out.append(torch.softmax(logits.float(), dim=1).permute(0, 2, 1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0, 3), dtype=np.float32)


def score_region(model: torch.nn.Module, reference: Reference, chrom: str, start: int, end: int, *,
                 strand: Literal["+", "-"] = "+", block_length: int = 5000, batch_size: int = 8,
                 device: torch.device | None = None) -> np.ndarray:
    """``(end − start, 2)`` acceptor and donor probabilities for each base of ``chrom[start:end]``."""
    device = device or pick_device()
    context = int(getattr(model, "context", 0))
    half = context // 2
    n = end - start
    block_length = max(1, min(block_length, n))  # a short region needs no longer window than itself
    blocks = range(start, end, block_length)
    windows = np.empty((len(blocks), block_length + context), dtype=np.uint8)
    for i, b in enumerate(blocks):
        codes = reference.fetch(chrom, b - half, b + block_length + half)
        windows[i] = reverse_complement(codes) if strand == "-" else codes
    probs = probabilities(model, windows, device, batch_size)  # (blocks, SL, 3)
    if strand == "-":
        probs = probs[:, ::-1]
    return probs.reshape(-1, 3)[:n, 1:3]


class EnsembleModel(torch.nn.Module):
    """Members averaged as SpliceAI averages its five models: the mean of their probabilities.

    ``forward`` returns ``log(mean_m softmax(member_m(x)))``, so a softmax over it, as every caller
    applies to a model's logits, gives the members' mean probability exactly.
    """

    def __init__(self, members: list[torch.nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        contexts = {int(getattr(m, "context", 0)) for m in members}
        if len(contexts) != 1:
            raise sciarch.UsageError(f"ensemble members have different contexts ({sorted(contexts)})")
        self.members = torch.nn.ModuleList(members)
        self.context = contexts.pop()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.stack([torch.softmax(m(x).float(), dim=1) for m in self.members]).mean(0)
        return torch.log(mean)

    def __repr__(self) -> str:
        return f"EnsembleModel({len(self.members)} × {self.members[0]!r})"


def load_model(run: Any) -> torch.nn.Module:
    """The run's model in eval mode; an ensemble run's members averaged (:class:`EnsembleModel`)."""
    tasks = run.tasks() if run.is_ensemble else [run.load_task()]
    models = [task.model.eval() for task in tasks]
    return models[0] if len(models) == 1 else EnsembleModel(models).eval()


def predict_to_file(model: torch.nn.Module, fasta: str | Path, output: str | Path, *, region: str | None = None,
                    strand: Strand = "both", block_length: int = 20000, batch_size: int = 8, min_score: float = 0.0,
                    format: Literal["auto", "tsv", "bedgraph"] = "auto", device: str = "auto",
                    segment_blocks: int = 50) -> dict[str, Any]:
    """Score ``region`` (or every contig) of ``fasta`` and write TSV or bedGraph to ``output`` (atomically).

    Blocks default to 20,000 bases: the context each window reads is then shared by 4× as many scored
    bases as with SpliceAI's SL of 5,000; the scores are the same (13.3 against 17.2 CPU-s for 123 kb,
    both strands, with the imported Keras ensemble, start-up included). Work goes
    ``segment_blocks`` blocks at a time (1 Mb by default), written as it goes, so a
    whole chromosome needs the memory of one segment. bedGraph tracks (acceptor and donor on each
    strand) are filled side by side in temporary files and joined at the end.
    """
    output = Path(output)
    fmt = format if format != "auto" else (
        "bedgraph" if output.suffix.lower() in (".bedgraph", ".bg", ".bdg") else "tsv")
    dev = pick_device(device)
    model = model.to(dev).eval()
    strands: list[Literal["+", "-"]] = ["+", "-"] if strand == "both" else [strand]  # type: ignore[list-item]
    segment = max(1, segment_blocks) * block_length
    tracks = [(s, column, site) for s in strands for column, site in ((0, "acceptor"), (1, "donor"))]
    written = bases = 0
    with open_reference(fasta) as reference, contextlib.ExitStack() as stack:
        regions = _regions(reference, region)
        out = stack.enter_context(sciarch.atomic_write(output, "w", encoding="ascii"))
        parts = {}
        if fmt == "tsv":
            out.write("chrom\tpos\tstrand\tacceptor\tdonor\n")
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=".tracks-", dir=output.parent)))
            parts = {(s, column): stack.enter_context(open(folder / f"{site}{s}.bedgraph", "w+", encoding="ascii"))
                     for s, column, site in tracks}
        pieces = [(chrom, lo, min(end, lo + segment)) for chrom, start, end in regions
                  for lo in range(start, end, segment)]
        for chrom, lo, hi in sciarch.track(pieces, "scoring splice sites") if len(pieces) > 1 else pieces:
            bases += hi - lo
            for s in strands:
                scores = score_region(model, reference, chrom, lo, hi, strand=s, block_length=block_length,
                                      batch_size=batch_size, device=dev)
                if fmt == "tsv":
                    written += _write_tsv(out, chrom, lo, s, scores, min_score)
                else:
                    for column in (0, 1):
                        written += _write_bedgraph(parts[(s, column)], chrom, lo, scores[:, column], min_score)
        for s, column, site in tracks if fmt == "bedgraph" else ():
            out.write(f'track type=bedGraph name="{site} ({s})" description="sciarch splice {site} probability, '
                      f'{s} strand"\n')
            handle = parts[(s, column)]
            handle.seek(0)
            shutil.copyfileobj(handle, out)
    return {"output": str(output), "format": fmt, "bases": bases, "lines": written,
            "strands": strands, "context": int(getattr(model, "context", 0))}


def _regions(reference: Reference, region: str | None) -> list[tuple[str, int, int]]:
    if region is None:
        return [(name, 0, length) for name, length in reference.contigs.items()]
    chrom, start, end = parse_region(region)
    name = reference.resolve(chrom)
    if name is None:
        raise sciarch.DataError(f"contig {chrom!r} is not in the FASTA (it has "
                                f"{', '.join(list(reference.contigs)[:5])}{', ...' if len(reference.contigs) > 5 else ''})",
                                file=getattr(reference, "path", None))
    length = reference.contigs[name]
    start = 0 if start is None else start
    end = length if end is None else min(end, length)
    if start >= length:
        raise sciarch.UsageError(f"region {region}: starts past the end of {name} ({length} bases)")
    return [(name, start, end)]


def _write_tsv(out: IO[str], chrom: str, start: int, strand: str, scores: np.ndarray, min_score: float) -> int:
    keep = np.flatnonzero(scores.max(axis=1) >= min_score) if min_score > 0 else np.arange(len(scores))
    lines = [f"{chrom}\t{start + i + 1}\t{strand}\t{scores[i, 0]:.4f}\t{scores[i, 1]:.4f}\n" for i in keep]
    out.writelines(lines)
    return len(lines)


def _write_bedgraph(out: IO[str], chrom: str, start: int, values: np.ndarray, min_score: float) -> int:
    """One line per run of equal (4-decimal) values at or above ``min_score``."""
    rounded = np.round(values.astype(np.float64), 4)
    lines = 0
    for run_start, run_end, value in _runs(rounded):
        if value < min_score or (min_score <= 0 and value == 0):
            continue
        out.write(f"{chrom}\t{start + run_start}\t{start + run_end}\t{value:.4f}\n")
        lines += 1
    return lines


def _runs(values: np.ndarray) -> Iterator[tuple[int, int, float]]:
    if not len(values):
        return
    edges = np.flatnonzero(np.diff(values) != 0) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(values)]])
    for s, e in zip(starts, ends, strict=True):
        yield int(s), int(e), float(values[s])


def predict(run: Any, input: Path, output: Path, region: str | None = None, strand: Strand = "both",
            block_length: int = 20000, batch_size: int = 8, min_score: float = 0.0,
            format: Literal["auto", "tsv", "bedgraph"] = "auto", device: str = "auto") -> dict[str, Any]:
    """``sciarch predict`` entry point: ``input`` is a FASTA; options as for ``sciarch splice predict``."""
    return predict_to_file(load_model(run), input, output, region=region, strand=strand, block_length=block_length,
                           batch_size=batch_size, min_score=float(min_score), format=format, device=device)
