"""The property task: masked losses, standardisation from the training split, metrics per target."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sciarch_molecules.task import PropertyTask
from torch_geometric.data import Batch, Data


class Linear(torch.nn.Module):
    """y = W · (mean of node features): enough to drive the task's code paths."""

    def __init__(self, features: int = 4, out: int = 2) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(features, out)

    def forward(self, batch):
        from torch_geometric.nn import global_mean_pool

        return self.lin(global_mean_pool(batch.x, batch.batch))


def batch_of(y):
    torch.manual_seed(0)
    return Batch.from_data_list([Data(x=torch.randn(3, 4), y=torch.tensor([row], dtype=torch.float32),
                                      idx=torch.tensor([i])) for i, row in enumerate(y)])


def test_missing_targets_are_masked_out_of_the_loss_and_its_gradient():
    task = PropertyTask(Linear(), target_names=["a", "b"])
    full = batch_of([[1.0, 2.0], [3.0, 4.0]])
    gapped = batch_of([[1.0, float("nan")], [3.0, float("nan")]])
    out = task.model(full)
    loss_gapped = task._loss(out, gapped.y)
    assert torch.isfinite(loss_gapped)
    assert loss_gapped.item() == pytest.approx(((out[:, 0] - gapped.y[:, 0]) ** 2).mean().item(), rel=1e-6)
    loss_gapped.backward()
    # the second output row of the head gets no gradient: its target is missing everywhere
    assert torch.all(task.model.lin.weight.grad[1] == 0) and torch.any(task.model.lin.weight.grad[0] != 0)


def test_a_batch_without_labels_gives_a_zero_loss_not_nan():
    task = PropertyTask(Linear(), target_names=["a", "b"])
    batch = batch_of([[float("nan")] * 2] * 2)
    assert task._loss(task.model(batch), batch.y).item() == 0.0


def test_predictions_come_back_in_target_units():
    task = PropertyTask(Linear(), target_names=["a", "b"])
    task.target_mean.copy_(torch.tensor([10.0, -5.0]))
    task.target_std.copy_(torch.tensor([2.0, 0.5]))
    batch = batch_of([[0.0, 0.0]])
    raw = task.model(batch)
    assert torch.allclose(task.predict_batch(batch), raw * torch.tensor([2.0, 0.5]) + torch.tensor([10.0, -5.0]))
    # the statistics are buffers: they are saved with the weights
    assert {"target_mean", "target_std"} <= set(task.state_dict())


def test_classification_predicts_probabilities_and_uses_bce():
    task = PropertyTask(Linear(out=1), task_type="classification", target_names=["active"])
    batch = batch_of([[1.0], [0.0]])
    out = task.model(batch)
    prob = task.predict_batch(batch)
    assert torch.all((prob > 0) & (prob < 1))
    expected = torch.nn.functional.binary_cross_entropy_with_logits(out, batch.y)
    assert task._loss(out, batch.y).item() == pytest.approx(expected.item(), rel=1e-6)


def test_regression_metrics_match_their_definitions():
    task = PropertyTask(Linear(out=1), target_names=["y"])
    rng = np.random.default_rng(0)
    true = rng.normal(size=40).astype(np.float32)
    pred = (true + rng.normal(scale=0.3, size=40)).astype(np.float32)
    collection = task.metrics["val"][0]
    collection.update(torch.from_numpy(pred), torch.from_numpy(true))
    values = {k: float(v) for k, v in collection.compute().items()}
    from scipy import stats

    assert values["rmse"] == pytest.approx(math.sqrt(((pred - true) ** 2).mean()), rel=1e-5)
    assert values["mae"] == pytest.approx(np.abs(pred - true).mean(), rel=1e-5)
    assert values["r2"] == pytest.approx(1 - ((pred - true) ** 2).sum() / ((true - true.mean()) ** 2).sum(), rel=1e-4)
    assert values["pearson"] == pytest.approx(stats.pearsonr(pred, true)[0], rel=1e-4)
    assert values["spearman"] == pytest.approx(stats.spearmanr(pred, true)[0], rel=1e-4)


def test_classification_metrics_match_sklearn():
    from sklearn.metrics import average_precision_score, roc_auc_score

    task = PropertyTask(Linear(out=1), task_type="classification", target_names=["active"])
    rng = np.random.default_rng(1)
    true = rng.integers(0, 2, size=60)
    prob = np.clip(true * 0.3 + rng.uniform(size=60) * 0.7, 0, 1).astype(np.float32)
    collection = task.metrics["test"][0]
    collection.update(torch.from_numpy(prob), torch.from_numpy(true))
    values = {k: float(v) for k, v in collection.compute().items()}
    assert values["roc_auc"] == pytest.approx(roc_auc_score(true, prob), rel=1e-5)
    assert values["pr_auc"] == pytest.approx(average_precision_score(true, prob), rel=1e-5)


def test_standardisation_uses_the_training_split_only(tmp_path, monkeypatch):
    from sciarch_molecules.data import MoleculeData

    monkeypatch.setenv("SCIARCH_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "t.csv"
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 1000.0]
    path.write_text("smiles,y\n" + "".join(f"{'C' * (i + 1)},{v}\n" for i, v in enumerate(values)))
    data = MoleculeData(path=str(path), targets=["y"], split_sizes=(0.8, 0.1, 0.1), split_seed=0)
    data.setup()
    train = data.split_indices["train"]
    mean, std = data.target_statistics()
    expected = np.asarray(values)[train]
    assert mean[0] == pytest.approx(expected.mean()) and std[0] == pytest.approx(expected.std())



def test_the_stereo_labelling_is_a_data_setting_that_reaches_the_graphs(tmp_path):
    from sciarch_datasets.molecules.featurise import ATOM_FEATURE_BLOCKS, CHIRALITY
    from sciarch_molecules.data import MoleculeData

    start = 0
    for name, width in ATOM_FEATURE_BLOCKS:
        if name == "chirality":
            break
        start += width
    # a sulfoxide (armodafinil, charge-separated) whose centre RDKit's legacy CIP code calls S and the
    # new labeller R: the fast and exact labellings differ on it
    smiles = "NC(=O)C[S@@+]([O-])C(c1ccccc1)c1ccccc1"
    path = tmp_path / "t.csv"
    path.write_text("smiles,y\n" + "".join(f"{smiles},{v}\n" for v in range(4)))
    for labels, expected in (("fast", "S"), ("exact", "R")):
        data = MoleculeData(path=str(path), targets=["y"], stereo_labels=labels, cache=False)
        graph = data.featuriser((smiles,))
        assert graph["x"][4, start + CHIRALITY.index(expected)] == 1.0, labels
