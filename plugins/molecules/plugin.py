"""What the molecules plugin contributes to sciarch. Specs name code by string; nothing heavy is imported."""

import sciarch

sciarch_extra = "chemistry"  # the host checks it at every load
sciarch.require_extra(sciarch_extra)

from sciarch import DatasetSpec, ModelSpec, RecipeSpec, TaskSpec, hookimpl  # noqa: E402

PACKAGE = "sciarch_molecules"


@hookimpl
def sciarch_models():
    return [
        ModelSpec(name="dmpnn", builder=f"{PACKAGE}.models.dmpnn:DMPNN", task="graph regression/classification",
                  summary="directed bond message passing (chemprop's D-MPNN), written here",
                  paper="Yang et al., J. Chem. Inf. Model. 59, 3370 (2019)"),
        ModelSpec(name="gine", builder=f"{PACKAGE}.models.gine:GINE", task="graph regression/classification",
                  summary="graph isomorphism network with edge features (PyG GINEConv)",
                  paper="Hu et al., ICLR 2020; Xu et al., ICLR 2019"),
        ModelSpec(name="attentivefp", builder=f"{PACKAGE}.models.attentivefp:AttentiveFP",
                  task="graph regression/classification",
                  summary="graph attention over atoms and a molecule super-node (PyG AttentiveFP)",
                  paper="Xiong et al., J. Med. Chem. 63, 8749 (2020)"),
        ModelSpec(name="schnet", builder=f"{PACKAGE}.models.schnet:SchNet", task="3D graph regression",
                  summary="continuous-filter convolutions on distances (PyG SchNet on this plugin's graphs)",
                  paper="Schütt et al., NeurIPS 2017"),
        ModelSpec(name="dimenet", builder=f"{PACKAGE}.models.dimenet:DimeNetPlusPlus", task="3D graph regression",
                  summary="directional message passing with angles (PyG DimeNet++, plain-torch graph and triplets)",
                  paper="Gasteiger et al., ML4Molecules 2020; ICLR 2020"),
        ModelSpec(name="egnn", builder=f"{PACKAGE}.models.egnn:EGNN", task="3D graph regression",
                  summary="E(n)-equivariant GNN over ligand + pocket with edge types, written here",
                  paper="Satorras, Hoogeboom & Welling, ICML 2021"),
    ]


@hookimpl
def sciarch_datasets():
    return [
        DatasetSpec(name="freesolv", builder=f"{PACKAGE}.data:freesolv", embedded=True,
                    summary="FreeSolv: 642 experimental hydration free energies (kcal/mol)",
                    formats=("SMILES CSV",), license="CC BY 4.0 (FreeSolv, Mobley lab)",
                    citation="Mobley & Guthrie, J. Comput.-Aided Mol. Des. 28, 711 (2014)",
                    source="shipped: sciarch_datasets/molecules/data/freesolv.csv (licence and provenance "
                           "in data/NOTICE.md)"),
        DatasetSpec(name="solubility", builder=f"{PACKAGE}.data:solubility", embedded=True,
                    summary="RDKit's aqueous solubility set (log S): 1025 training, 257 test molecules",
                    formats=("SDF",), license="BSD 3-Clause (RDKit's documentation data)",
                    citation="Huuskonen, J. Chem. Inf. Comput. Sci. 40, 773 (2000)",
                    source="shipped: sciarch_datasets/molecules/data/solubility.{train,test}.sdf (licence "
                           "and provenance in data/NOTICE.md)"),
        DatasetSpec(name="smiles-csv", builder=f"{PACKAGE}.data:MoleculeData",
                    summary="your MoleculeNet-style table: SMILES column(s) and named target columns",
                    formats=("SMILES CSV", "SDF"), source="your file: data.args.path, data.args.targets"),
        DatasetSpec(name="pdbbind", builder=f"{PACKAGE}.binding:ComplexData", embedded=True,
                    summary="protein–ligand complexes in the PDBbind layout with pK; generated complexes by default",
                    formats=("PDB", "SDF", "MOL2", "PDBbind INDEX", "CSV index"),
                    citation="Wang et al., J. Med. Chem. 47, 2977 (2004) (PDBbind)",
                    source="generated (RDKit) unless data.args.root points at a PDBbind folder "
                           "(https://www.pdbbind-plus.org.cn, registration required)"),
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
                   summary="D-MPNN on FreeSolv hydration free energies, random 80/10/10 split",
                   expected=(("test/rmse", "0.997 ± 0.178 kcal/mol (5 split seeds, one model each; ensembles of 5: "
                              "0.944 ± 0.182)", "benchmarks/results/molecules-freesolv-ensemble5.json"),)),
        RecipeSpec(name="solubility", resource=f"{PACKAGE}:recipes/solubility.yaml", trains_on="molecules/solubility",
                   summary="Attentive FP on the RDKit solubility set (log S), its own test file",
                   expected=(("test/rmse", "0.588 log units (seed 0, one run)", "docs/molecules.md"),)),
        RecipeSpec(name="pdbbind-egnn", resource=f"{PACKAGE}:recipes/pdbbind-egnn.yaml", trains_on="molecules/pdbbind",
                   summary="EGNN on ligand + pocket graphs predicting pK (your PDBbind folder, or generated)"),
    ]
