"""Which long-range rules has a trained run learnt? Its false positives by decoy kind, and a silencer ablation.

On the default simulated genome (simulator v3) each gene lists its long-range decoys: orphan
acceptors and donors (exon definition: no partner within 300 bases), and pseudo-exons silenced by a
near block (TAGGGT x8, acceptor 250-700 bases downstream) or a far block ((CA)30, 1,200-3,400 bases
downstream: the rule only SpliceAI-10k's and the SSM's context can see). For a run trained on it this
scores the test chromosomes (chr1, 3, 5, 7, 9) and reports, per class:

- how many of the positions above the top-k threshold (k = number of true sites) are not sites, and
  how many of those are each kind of decoy;
- with ``--ablate``: every silenced pseudo-exon's acceptor and donor probability with its block in
  place and with the block replaced by random bases. A model that uses the rule scores the decoy
  higher without its block.

    python benchmarks/splice/decoys.py RUN_DIR [RUN_DIR ...] [--ablate] [--json out.json]

The run must have been trained on the default simulated genome with windows of at least its context
(``--same-budget`` runs: block 10,000, context 10,000).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

BLOCK_BASES = {"silenced_far": 60, "silenced_near": 48}  # len("CA" * 30), len("TAGGGT" * 8)


def windows(block_length: int, context: int):
    """``(gene record, chromosome codes, labels, simulated gene)`` for each test gene."""
    from sciarch_datasets.genomics.labels import split_of
    from sciarch_datasets.genomics.prepare import SpliceShards
    from sciarch_datasets.genomics.simulate import simulate
    from sciarch_splice.data import SpliceSites

    data = SpliceSites(block_length=block_length, context=context)
    data.prepare_data()
    shards = SpliceShards(data.prepared_path())
    _, genes = simulate()
    by_id = {g.id: g for g in genes}
    for shard in shards.shards:
        sequence, labels = np.asarray(shard.sequence), np.asarray(shard.labels)
        for gene in shard.genes:
            if split_of(shard.chrom, gene["id"]) == "test":
                yield gene, sequence, labels, by_id[gene["id"]]


def probabilities(model: torch.nn.Module, codes: np.ndarray, context: int) -> np.ndarray:
    """``(3, SL)`` site probabilities of one window of ``SL + context`` codes (N as zeros)."""
    table = np.concatenate([np.eye(4), np.zeros((1, 4))]).astype(np.float32)
    x = torch.from_numpy(table[codes].T.copy())[None]
    extra = context - model.context
    if extra:
        x = x[..., extra // 2:x.shape[-1] - extra // 2]
    with torch.no_grad():
        return torch.softmax(model(x).float(), dim=1)[0].numpy()


def analyse(run_dir: str, *, block_length: int, context: int, ablate: bool, seed: int = 0) -> dict:
    from sciarch import Run
    from sciarch_splice.predict import load_model

    model = load_model(Run(run_dir))
    half = context // 2
    scores, truth, kinds = [], [], []
    ablation: dict[str, list[tuple[float, float]]] = {k: [] for k in BLOCK_BASES}
    rng = np.random.default_rng(seed)
    for gene, sequence, labels, sim in windows(block_length, context):
        off, blocks = gene["offset"], gene["blocks"]
        window = [sequence[off + k * block_length:off + (k + 1) * block_length + context] for k in range(blocks)]
        p = np.concatenate([probabilities(model, w, context) for w in window], axis=1)
        lab = labels[off + half:off + half + blocks * block_length]  # gene-local positions 0, 1, ...
        kind = np.full(len(lab), "", dtype=object)
        for name, acceptor, donor, block in sim.decoys:
            for pos, tag in ((acceptor, "a"), (donor, "d")):
                if 0 <= pos < len(lab):
                    kind[pos] = f"{name}:{tag}"
            if not ablate or name not in BLOCK_BASES:
                continue
            for pos, cls in ((acceptor, 1), (donor, 2)):
                k = pos // block_length
                start = half + block - k * block_length  # the block's first base in window k
                if start < 0:
                    continue
                mutated = window[k].copy()
                mutated[start:start + BLOCK_BASES[name]] = rng.integers(0, 4, BLOCK_BASES[name])
                j = pos - k * block_length
                ablation[name].append((float(p[cls, pos]), float(probabilities(model, mutated, context)[cls, j])))
        keep = lab >= 0
        scores.append(p[:, keep])
        truth.append(lab[keep])
        kinds.append(kind[keep])
    s, y, kd = np.concatenate(scores, axis=1), np.concatenate(truth), np.concatenate(kinds)
    out: dict = {"run": run_dir}
    for cls, name, tag in ((1, "acceptor", "a"), (2, "donor", "d")):
        k = int((y == cls).sum())
        threshold = np.sort(s[cls])[-k]
        above = s[cls] >= threshold
        false = above & (y != cls)
        row = {"sites": k, "topk": float((above & (y == cls)).sum() / k), "false_positives": int(false.sum()),
               "other": int((false & (kd == "")).sum())}
        for kind_name in ("silenced_far", "silenced_near", f"orphan_{name}"):
            mask = kd == f"{kind_name}:{tag}"
            row[kind_name] = {"decoys": int(mask.sum()), "above_threshold": int(above[mask].sum()),
                              "median_p": float(np.median(s[cls][mask])) if mask.any() else None}
        out[name] = row
    if ablate:
        out["ablation"] = {}
        for name, pairs in ablation.items():
            v = np.array(pairs)
            out["ablation"][name] = {"sites": len(v), "median_p_with_block": float(np.median(v[:, 0])),
                                     "median_p_without_block": float(np.median(v[:, 1])),
                                     "mean_log_ratio": float(np.mean(np.log(v[:, 1] + 1e-6) - np.log(v[:, 0] + 1e-6)))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--block-length", type=int, default=10000)
    parser.add_argument("--context", type=int, default=10000)
    parser.add_argument("--ablate", action="store_true", help="also score each silenced decoy without its block")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    for run in args.runs:
        r = analyse(run, block_length=args.block_length, context=args.context, ablate=args.ablate)
        results.append(r)
        print(run)
        for name in ("acceptor", "donor"):
            row = r[name]
            parts = ", ".join(f"{k} {v['above_threshold']}/{v['decoys']}" for k, v in row.items() if isinstance(v, dict))
            print(f"  {name}: top-k {row['topk']:.3f}; {row['false_positives']} false positives above the "
                  f"threshold: {parts} decoys, {row['other']} other")
        for name, a in r.get("ablation", {}).items():
            print(f"  {name} ({a['sites']} sites): median p {a['median_p_with_block']:.3f} with the block, "
                  f"{a['median_p_without_block']:.3f} without; mean log ratio {a['mean_log_ratio']:+.3f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
