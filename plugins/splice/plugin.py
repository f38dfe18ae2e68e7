"""What the splice plugin contributes to sciarch: models, data, task, recipes and commands.

Kept light: specs name code by string, so listing plugins imports neither torch nor Biopython.
"""

import sciarch

sciarch_extra = "genomics"  # the host checks it at every load
sciarch.require_extra(sciarch_extra)

from sciarch import DatasetSpec, ModelSpec, RecipeSpec, TaskSpec, hookimpl  # noqa: E402

PACKAGE = "sciarch_splice"
SPLICEAI = "Jaganathan et al., Predicting Splicing from Primary Sequence with Deep Learning, Cell 176 (2019)"
S4D = "Gu et al., On the Parameterization and Initialization of Diagonal State Space Models, NeurIPS 2022"


@hookimpl
def sciarch_models():
    spliceai = [
        ModelSpec(name=f"spliceai-{size}", builder=f"{PACKAGE}.spliceai:spliceai_{size}", task="splice-site tagging",
                  summary=f"SpliceAI-{size}: dilated residual CNN, 32 channels, {context} bases of context",
                  paper=SPLICEAI)
        for size, context in (("80", "80"), ("400", "400"), ("2k", "2,000"), ("10k", "10,000"))
    ]
    return spliceai + [
        ModelSpec(name="ssm", builder=f"{PACKAGE}.ssm:splice_ssm", task="splice-site tagging",
                  summary="bidirectional S4D state-space model (FFT convolution), any context length", paper=S4D),
        ModelSpec(name="ssm-hybrid", builder=f"{PACKAGE}.ssm:splice_ssm_hybrid", task="splice-site tagging",
                  summary="SpliceAI residual front for local motifs, then bidirectional S4D blocks", paper=S4D),
    ]


@hookimpl
def sciarch_datasets():
    return [DatasetSpec(
        name="sites", builder=f"{PACKAGE}.data:SpliceSites",
        summary="SpliceAI windows and labels from a genome + annotation, or the built-in gene simulator",
        formats=("FASTA (plain/bgzip/gzip)", "GTF", "GFF3", "GenBank"), embedded=True,
        source="embedded gene simulator by default; or set data.args.fasta and data.args.annotation "
               "(e.g. GENCODE GRCh38 primary assembly FASTA + basic GTF from gencodegenes.org)",
        license="simulated data: CC0; your own data: its own license",
        citation=SPLICEAI)]


@hookimpl
def sciarch_tasks():
    return [TaskSpec(name="sites", builder=f"{PACKAGE}.task:SpliceSiteTask", predictor=f"{PACKAGE}.predict:predict",
                     metrics=("topk_acceptor", "topk_donor", "prauc_acceptor", "prauc_donor", "loss"),
                     summary="per-base cross-entropy over none/acceptor/donor, padding masked; "
                             "SpliceAI top-k accuracy and PR-AUC")]


@hookimpl
def sciarch_recipes():
    return [
        RecipeSpec(name="spliceai-80", resource=f"{PACKAGE}:recipes/spliceai-80.yaml", trains_on="splice/sites",
                   summary="SpliceAI-80 on the simulated genome (CPU, minutes): the short end of the context table",
                   expected=(("test/topk", "see docs/splice.md", "benchmarks/results/splice_accuracy.json"),)),
        RecipeSpec(name="spliceai-400", resource=f"{PACKAGE}:recipes/spliceai-400.yaml", trains_on="splice/sites",
                   summary="SpliceAI-400 on the simulated genome (CPU, minutes)",
                   expected=(("test/topk", "0.711 on simulator v2; v3: see docs/splice.md",
                               "docs/splice.md, CPU, 1 thread, 4 epochs"),
                             ("test/prauc", "0.770 on simulator v2; v3: see docs/splice.md",
                              "docs/splice.md, CPU, 1 thread, 4 epochs"))),
        RecipeSpec(name="spliceai-2k", resource=f"{PACKAGE}:recipes/spliceai-2k.yaml", trains_on="splice/sites",
                   summary="SpliceAI-2k on the simulated genome",
                   expected=(("test/topk", "see docs/splice.md", "benchmarks/results/splice_accuracy.json"),)),
        RecipeSpec(name="spliceai-10k", resource=f"{PACKAGE}:recipes/spliceai-10k.yaml", trains_on="splice/sites",
                   summary="SpliceAI-10k on the simulated genome (GPU advised)",
                   expected=(("test/topk", "see docs/splice.md", "benchmarks/results/splice_accuracy.json"),)),
        RecipeSpec(name="ssm", resource=f"{PACKAGE}:recipes/ssm.yaml", trains_on="splice/sites",
                   summary="hybrid CNN + bidirectional S4D at 10 kb context on the simulated genome",
                   expected=(("test/topk", "see docs/splice.md", "benchmarks/results/splice_accuracy.json"),)),
    ]


@hookimpl
def sciarch_add_commands(cli):
    from .commands import splice

    cli.add_command(splice)
