"""Preparation speed (genes/s) and peak memory of genome + GTF → memory-mapped SpliceAI shards.

Simulated genomes of growing size are written first (not timed), then each is prepared in a fresh
process (so its peak resident memory is the preparation's own) with SpliceAI's settings
(SL 5000, CL 10000, N flanks, canonical transcripts). Streaming one contig at a time should keep
peak memory flat as the genome grows; the table shows whether it does.

    python benchmarks/splice/prepare_speed.py            # writes benchmarks/results/splice_prepare.*
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import loadavg, machine, write_results  # noqa: E402

SIZES = [(20, 50), (24, 250), (24, 1000)]  # (chromosomes, genes per chromosome)


def one(fasta: str, gtf: str, out: str, flank: str) -> dict:
    from sciarch_datasets.genomics import prepare_splice_sites
    from sciarch_datasets.genomics.prepare import peak_rss_mb

    before = peak_rss_mb()
    start = time.perf_counter()
    prepare_splice_sites(gtf, out, fasta=fasta, block_length=5000, context=10000, flank=flank, progress=False)
    seconds = time.perf_counter() - start
    manifest = json.loads((Path(out) / "manifest.json").read_text())
    size = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file())
    peak = peak_rss_mb()
    stats = manifest["stats"]
    return {"seconds": round(seconds, 2), "genes": stats["genes"], "windows": stats["blocks"],
            "gene_bases": stats["bases"], "genes_per_second": round(stats["genes"] / seconds, 1),
            "gene_bases_per_second": round(stats["bases"] / seconds), "peak_rss_mb": round(peak, 1),
            "rss_before_mb": round(before, 1), "output_mb": round(size / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="*", default=[f"{c}x{g}" for c, g in SIZES],
                        help="CHROMOSOMESxGENES_PER_CHROMOSOME")
    parser.add_argument("--flank", default="N", choices=["N", "genome"])
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--name", default="splice_prepare")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(*args.one)))
        return
    from sciarch_datasets.genomics.simulate import write_simulation

    info = machine(1)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for size in args.sizes:
            chromosomes, genes = (int(v) for v in size.split("x"))
            folder = Path(tmp) / size
            fasta, gtf = write_simulation(folder / "sim", seed=0, chromosomes=chromosomes, genes_per_chromosome=genes)
            genome_mb = fasta.stat().st_size / 2**20
            load = loadavg()
            done = subprocess.run([sys.executable, __file__, "--one", str(fasta), str(gtf), str(folder / "prep"),
                                   args.flank], capture_output=True, text=True, check=True)
            row = {"chromosomes": chromosomes, "genes_per_chromosome": genes, "genome_mb": round(genome_mb, 1),
                   "flank": args.flank, "loadavg": load, **json.loads(done.stdout.strip().splitlines()[-1])}
            rows.append(row)
            print(json.dumps(row), flush=True)
    payload = {"benchmark": "splice preparation", "machine": info, "settings": {"block_length": 5000,
               "context": 10000, "flank": args.flank, "isoforms": "canonical"},
               "command": " ".join([Path(sys.executable).name, *sys.argv]), "rows": rows}
    lines = ["| genome | genes | seconds | genes/s | gene Mb/s | peak memory MB | output MB |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['chromosomes']} contigs, {r['genome_mb']} MB FASTA | {r['genes']:,} | {r['seconds']} | "
                     f"{r['genes_per_second']:,} | {r['gene_bases_per_second'] / 1e6:.2f} | {r['peak_rss_mb']} | "
                     f"{r['output_mb']} |")
    note = ("\nOne process, one thread; simulated genomes (sciarch gene simulator), SL 5000, CL 10000. Peak memory "
            "is the preparing process's peak resident set (Python, numpy and pyfaidx included).\n")
    json_path, md_path = write_results(args.name, payload, "\n".join(lines) + "\n" + note)
    print(f"wrote {json_path} and {md_path}")


if __name__ == "__main__":
    main()
