"""SpliceAI's metrics and the masked loss."""

from __future__ import annotations

import math

import pytest
import sciarch
import torch
from sciarch_splice.metrics import SpliceSiteMetrics, pr_auc, topk_accuracy
from sciarch_splice.spliceai import spliceai_80
from sciarch_splice.task import SpliceSiteTask, crop_context


def test_topk_accuracy_counts_true_sites_among_the_k_best():
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.1, 0.05])
    truth = torch.tensor([1, 0, 1, 0, 1, 0])
    assert topk_accuracy(scores, truth) == pytest.approx(2 / 3)  # k = 3: positions 0, 1, 2
    assert topk_accuracy(scores, truth, factor=2) == pytest.approx(1.0)  # 6 best hold all 3 sites
    assert math.isnan(topk_accuracy(scores, torch.zeros(6)))


def test_pr_auc_is_scikit_learns_average_precision():
    from sklearn import metrics as sklearn  # in the test extra: the reference implementation
    generator = torch.Generator().manual_seed(0)
    truth = (torch.rand(5000, generator=generator) < 0.02).long()
    scores = torch.rand(5000, generator=generator) * 0.7 + truth * torch.rand(5000, generator=generator) * 0.5
    scores = torch.round(scores * 100) / 100  # ties, as real scores have
    expected = sklearn.average_precision_score(truth.numpy(), scores.numpy())
    assert pr_auc(scores, truth) == pytest.approx(expected, abs=1e-6)


def test_metrics_ignore_padding_and_separate_acceptors_from_donors():
    metric = SpliceSiteMetrics()
    probs = torch.zeros(1, 3, 6)
    probs[0, 1] = torch.tensor([0.9, 0.1, 0.1, 0.1, 0.95, 0.1])  # acceptor scores
    probs[0, 2] = torch.tensor([0.1, 0.8, 0.1, 0.1, 0.1, 0.99])  # donor scores
    labels = torch.tensor([[1, 2, 0, 0, -1, -1]])  # the two best scores are on padding
    metric.update(probs, labels)
    out = metric.compute()
    assert out["topk_acceptor"] == 1.0 and out["topk_donor"] == 1.0
    assert out["prauc_acceptor"] == pytest.approx(1.0) and out["prauc"] == pytest.approx(1.0)


def test_loss_masks_padding_and_crops_extra_context():
    torch.manual_seed(0)
    task = SpliceSiteTask(spliceai_80(channels=4))
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (2, 100 + 80 + 20)), 4).permute(0, 2, 1).float()
    y = torch.randint(0, 3, (2, 100))
    y[:, 60:] = -1
    loss = task._step((x, y), "train")
    # the model sees only its own 80 bases of context: the outer 10 bases each side do not matter
    x2 = x.clone()
    x2[..., :10] = 0
    assert torch.allclose(task._step((x2, y), "train"), loss)
    logits = task(x, 100)
    masked = torch.nn.functional.cross_entropy(logits[..., :60], y[:, :60])
    assert torch.allclose(loss, masked)


def test_too_little_context_is_a_usage_error():
    with pytest.raises(sciarch.UsageError, match="data.args.context"):
        crop_context(torch.zeros(1, 4, 90), 100)
