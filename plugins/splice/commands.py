"""``sciarch splice …``: per-base predictions along a genome and variant scoring.

Only click is imported here; torch and the genomics readers load when a command runs.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.group("splice")
def splice() -> None:
    """Splice-site models: predict sites along a genome, score variants, import published weights."""


@splice.command("predict")
@click.option("--checkpoint", "run_path", required=True, type=click.Path(path_type=Path),
              help="A run directory of a splice recipe, or a checkpoint file in one.")
@click.option("--fasta", required=True, type=click.Path(path_type=Path), help="Genome FASTA (plain, bgzip or gzip).")
@click.option("--region", default=None, help="CHROM or CHROM:START-END (1-based, inclusive); default: every contig.")
@click.option("--strand", type=click.Choice(["+", "-", "both"]), default="both", show_default=True)
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path),
              help="Output file: .bedgraph/.bg for bedGraph, anything else for TSV.")
@click.option("--format", "fmt", type=click.Choice(["auto", "tsv", "bedgraph"]), default="auto", show_default=True)
@click.option("--min-score", type=float, default=0.0, show_default=True,
              help="Write only positions whose acceptor or donor score reaches this.")
@click.option("--block-length", type=int, default=20000, show_default=True,
              help="Bases scored per window (each also reads the model's context; longer is faster, same scores).")
@click.option("--batch-size", type=int, default=8, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1 ...")
def predict_command(run_path: Path, fasta: Path, region: str | None, strand: str, output: Path, fmt: str,
                    min_score: float, block_length: int, batch_size: int, device: str) -> None:
    """Write per-base acceptor and donor probabilities of a genome region."""
    from sciarch import Run, console

    from .predict import load_model, predict_to_file

    result = predict_to_file(load_model(Run(run_path)), fasta, output, region=region, strand=strand,  # type: ignore[arg-type]
                             block_length=block_length, batch_size=batch_size, min_score=min_score,
                             format=fmt, device=device)  # type: ignore[arg-type]
    console.print(f"{result['bases']:,} bases on strand(s) {', '.join(result['strands'])}: "
                  f"{result['lines']:,} {result['format']} lines written to {output}")


@splice.command("score-variants")
@click.option("--checkpoint", "run_path", required=True, type=click.Path(path_type=Path),
              help="A run directory of a splice recipe, or a checkpoint file in one.")
@click.option("--vcf", required=True, type=click.Path(path_type=Path), help="Variants (VCF, plain or gzip).")
@click.option("--fasta", required=True, type=click.Path(path_type=Path), help="Reference FASTA the VCF is on.")
@click.option("--annotation", "-A", required=True, type=click.Path(path_type=Path),
              help="Genes: GTF, GFF3, or SpliceAI's annotation table (its grch37.txt / grch38.txt format); a "
                   "variant is scored for each gene containing it, on its strand.")
@click.option("--output", "-o", required=True, type=click.Path(path_type=Path), help="Annotated VCF to write.")
@click.option("--distance", "-D", type=click.IntRange(0, 4999), default=50, show_default=True,
              help="Score sites within this many bases of the variant (SpliceAI's -D, 0-4999).")
@click.option("--mask", "-M", type=click.IntRange(0, 1), default=0, show_default=True,
              help="1: write 0 for gains at the annotated exon boundary and losses elsewhere (SpliceAI's -M).")
@click.option("--batch-size", type=int, default=64, show_default=True)
@click.option("--device", default="auto", show_default=True)
def score_variants_command(run_path: Path, vcf: Path, fasta: Path, annotation: Path, output: Path, distance: int,
                           mask: int, batch_size: int, device: str) -> None:
    """Add SpliceAI-style delta scores (acceptor/donor gain/loss) to a VCF's INFO."""
    from sciarch import Run, console

    from .variants import score_variants

    result = score_variants(Run(run_path), vcf, fasta, annotation, output, distance=distance, mask=bool(mask),
                            batch_size=batch_size, device=device)
    skipped = result["skipped"]
    why = ", ".join(f"{n} {reason}" for reason, n in skipped["reasons"].items())
    console.print(f"{result['records']:,} variants: {result['annotated']:,} annotated "
                  f"({result['scored']:,} allele-gene scores, {result['unscorable']:,} unscorable), "
                  f"{result['outside_genes']:,} outside genes, {skipped['skipped']:,} skipped"
                  f"{f' ({why})' if why else ''}; written to {output}")


@splice.command("import-weights")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Run directory to write.")
@click.option("--license", "license_", default=None,
              help="The weights' licence, when the files do not state it (recorded in provenance.json).")
def import_weights_command(sources: tuple[Path, ...], out: Path, license_: str | None) -> None:
    """Turn published SpliceAI weights into a sciarch run (an ensemble of one member per file).

    SOURCES: Keras SpliceAI .h5 files (e.g. spliceai1.h5 ... spliceai5.h5 from the `spliceai` package's
    spliceai/models/ folder, or that folder) or OpenSpliceAI .pt checkpoints (files or a folder).
    Read locally; nothing is downloaded.
    """
    from sciarch import console

    from .weights import import_weights

    summary = import_weights(list(sources), out, license=license_)
    provenance = summary["imported"]
    arch = provenance["architecture"]
    console.print(f"{summary['ensemble']} {provenance['source']} model(s) -> {out} ({arch['model']}, BatchNorm eps "
                  f"{arch['eps']:g}, ReLU slope {arch['negative_slope']:g}); licence: "
                  f"{'; '.join(provenance['licenses'])}")
