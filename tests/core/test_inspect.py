"""``sciarch inspect``: FLOPs, memory and receptive fields measured right, and the three kinds of
"model" (architecture, recipe, run) told apart, for any plugin."""

from __future__ import annotations

import json

import torch
from sciarch.cli import main
from sciarch.config import load
from sciarch.inspection import (
    backbone_receptive_field,
    count_flops,
    flops_and_peak_bytes,
    peak_live_bytes,
    receptive_field,
)
from sciarch.training import train
from torch import nn


def test_flop_counts_of_a_linear_and_a_convolution_agree_with_a_hand_count():
    linear, x = nn.Linear(64, 32), torch.randn(8, 64)
    assert count_flops(lambda: linear(x)) == 2 * 8 * 64 * 32  # one multiply-accumulate = two FLOPs
    conv, s = nn.Conv1d(4, 8, kernel_size=3), torch.randn(2, 4, 102)  # 100 output positions
    assert count_flops(lambda: conv(s)) == 2 * (2 * 8 * 100) * (4 * 3)


def test_receptive_field_of_a_dilated_stack_is_computed_and_confirmed_by_the_gradient():
    layers = []
    for d in (1, 2, 4, 8):
        layers += [nn.Conv1d(3, 3, 3, dilation=d, padding=d), nn.Tanh()]
    stack = nn.Sequential(*layers).eval()
    rf = receptive_field(stack, (torch.randn(1, 3, 200),), {})
    assert rf["computed"] == rf["measured"] == 1 + 2 * (1 + 2 + 4 + 8)
    assert rf["per_layer"] == [3, 7, 15, 31] and not rf["truncated"]
    plain = nn.Sequential(*[nn.Conv1d(3, 3, 3, padding=1) for _ in range(4)]).eval()
    assert receptive_field(plain, (torch.randn(1, 3, 200),), {})["measured"] == 9  # linear in depth
    pooled = nn.Sequential(nn.Conv1d(3, 3, 3, padding=1), nn.MaxPool1d(2), nn.Conv1d(3, 3, 3, padding=1)).eval()
    assert receptive_field(pooled, (torch.randn(1, 3, 64),), {})["computed"] == 3 + 1 + 2 * 2


def test_a_detector_has_the_receptive_field_of_its_backbone_measured_across_the_picture():
    class Detector(nn.Module):  # takes a list of pictures, as torchvision's detectors do
        def __init__(self) -> None:
            super().__init__()
            self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 5, padding=4,
                                                                                             dilation=2))

        def forward(self, pictures: list) -> list:
            return [{"boxes": self.backbone(p[None]).flatten()[:4]} for p in pictures]

    detector = Detector().eval()
    assert receptive_field(detector, ([torch.randn(3, 40, 40)],), {}) is None  # no map, no single tensor
    rf = backbone_receptive_field(detector, ([torch.randn(3, 40, 40)],))
    assert rf["measured"] == 3 + 4 * 2 and rf["of"] == "backbone" and not rf["truncated"]
    small = backbone_receptive_field(detector, ([torch.randn(3, 6, 6)],))  # widened until it fits
    assert small["measured"] == 11 and small["input_length"] > 11


def test_peak_live_bytes_counts_the_intermediates_an_expression_keeps():
    x = torch.randn(1000)
    # x*2 (4000 B) is alive while (x*2)+1 (4000 B) is made; x itself existed before
    assert peak_live_bytes(lambda: (x * 2) + 1) == 8000
    assert peak_live_bytes(lambda: x.view(10, 100).t()) == 0  # views allocate nothing
    conv, s = nn.Conv1d(4, 8, kernel_size=3), torch.randn(2, 4, 102)
    assert flops_and_peak_bytes(lambda: conv(s).relu()) == (count_flops(lambda: conv(s)),
                                                           peak_live_bytes(lambda: conv(s).relu()))


def _inspect(capsys, *args: str) -> list[dict]:
    assert main(["inspect", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_three_kinds_of_model_are_told_apart(host, tmp_path, capsys):
    # the toy plugin is the output of `sciarch new-plugin`: inspectable with no extra code
    architecture, recipe = _inspect(capsys, "toy/mlp", "toy/default")
    assert architecture["kind"] == "architecture" and recipe["kind"] == "model"
    assert "toy/default" in architecture["note"]  # probed with the data of the recipe that uses it
    assert recipe["trains_on"]["dataset"] == "toy/sine"
    for report in (architecture, recipe):
        assert report["parameters"] > 0 and report["macs_per_example"] > 0
        assert report["flops_per_example"] == 2 * report["macs_per_example"]
        assert report["training_flops_per_example"] > report["flops_per_example"]
        assert report["throughput"]["examples_per_s"] > 0
        assert report["roofline"]["peak_flops"] > 0 and report["roofline"]["bandwidth"] > 0
        assert {p["name"] for p in report["free_parameters"]} >= {"in_features"}
    run_dir = tmp_path / "run"
    train(load("toy/default", smoke=True, host=host), run_dir=run_dir, quiet=True)
    (fit,) = _inspect(capsys, str(run_dir))
    assert fit["kind"] == "fit model"
    assert fit["weights"]["steps"] == json.loads((run_dir / "summary.json").read_text())["global_step"]
    assert len(fit["weights"]["checkpoint_sha256"]) == 64 and "test/rmse" in fit["test_metrics"]
    assert main(["inspect", "toy/nope"]) == 2


def test_inspect_draws_the_roofline(host, tmp_path, capsys):
    out = tmp_path / "roofline.png"
    assert main(["inspect", "toy/default", "toy/mlp", "--plot", str(out)]) == 0
    assert out.stat().st_size > 1000
    table = capsys.readouterr().err
    assert "toy/default" in table and "toy/mlp" in table and "MACs / example" in table
