"""sciarch_molecules: graph neural networks for molecular properties and protein–ligand binding."""

import warnings

# PyTorch Geometric scripts a few helpers at import time, and torchmetrics warns that Spearman's
# correlation keeps every prediction of an epoch: neither is actionable for a user of this plugin
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.* is deprecated", category=FutureWarning)
warnings.filterwarnings("ignore", message=r"Metric `SpearmanCorrcoef` will save all targets")
