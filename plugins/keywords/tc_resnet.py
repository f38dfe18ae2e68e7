"""TC-ResNet: a temporal-convolution residual network, the clip-classification baseline.

From Choi et al. 2019, "Temporal Convolution for Real-time Keyword Spotting on Mobile Devices"
(Interspeech, arXiv:1904.03814). The log-mel bands are the channels of a 1-D convolution over time
(rather than the height of a 2-D image), so the first layer already sees the whole spectrum:

.. math::

    h_0 = \\mathrm{conv}_{3}(M), \\qquad
    h_{b} = \\mathrm{ReLU}\\big(\\mathrm{BN}(\\mathrm{conv}_{9}(\\mathrm{ReLU}(\\mathrm{BN}(\\mathrm{conv}_{9,\\,s=2}(h_{b-1})))))
            + \\mathrm{shortcut}(h_{b-1})\\big)

then average pooling over time and a linear layer. TC-ResNet8 has three blocks of 24, 32 and 48
channels (times a width multiplier); TC-ResNet14 has six. The clip is classified as a whole (the
pooling sees the entire clip), so unlike :class:`~sciarch_keywords.wavenet.WaveNetKWS` it does
not stream frame by frame.

Shapes: waveform ``(B, T)`` → log-mel ``(B, n_mels, T/160)`` → scores ``(B, num_classes, 1)``.
"""

from __future__ import annotations

import torch
from torch import nn

from .frontend import LogMelFrontEnd


class TCResidualBlock(nn.Module):
    """Two temporal convolutions (the first strided) with batch norm, and a shortcut.

    Shapes: ``(B, in_channels, T)`` → ``(B, out_channels, ceil(T / stride))``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 9, stride: int = 2) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm1d(out_channels)
        self.conv2 = nn.Conv1d(out_channels, out_channels, kernel_size, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm1d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv1d(in_channels, out_channels, 1, stride=stride, bias=False),
                                          nn.BatchNorm1d(out_channels), nn.ReLU())
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(self.act(self.bn1(self.conv1(x)))))
        return self.act(y + self.shortcut(x))


class TCResNet(nn.Module):
    """TC-ResNet (Choi et al. 2019) on log-mel features.

    Args:
        num_classes (int): output classes (filled from the data).
        n_mels (int): mel bands, the channels of the first convolution (default 40).
        channels (list[int]): output channels of the stem and of each block (default 16, 24, 32, 48:
            TC-ResNet8).
        width (float): width multiplier (1.5 gives TC-ResNet8-1.5).
        kernel_size (int): temporal kernel of the blocks (default 9).
        dropout (float): dropout before the classifier.
    """

    frame_level = False

    def __init__(self, num_classes: int, n_mels: int = 40, channels: tuple[int, ...] = (16, 24, 32, 48),
                 width: float = 1.0, kernel_size: int = 9, dropout: float = 0.0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.frontend = LogMelFrontEnd(n_mels=n_mels)
        self.input_norm = nn.BatchNorm1d(n_mels)
        widths = [max(1, int(round(c * width))) for c in channels]
        self.stem = nn.Conv1d(n_mels, widths[0], 3, padding=1, bias=False)
        # a block that widens the stream also halves time; one that keeps the width keeps the time
        self.blocks = nn.Sequential(*[TCResidualBlock(a, b, kernel_size, stride=2 if b != a else 1)
                                      for a, b in zip(widths, widths[1:], strict=False)])
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(widths[-1], num_classes)

    def forward_features(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, n_mels, T)`` log-mel to ``(B, num_classes, 1)`` clip logits."""
        h = self.blocks(self.stem(self.input_norm(features)))
        return self.classifier(self.dropout(h.mean(dim=2)))[:, :, None]

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.forward_features(self.frontend(wave))

    def describe(self) -> str:
        params = sum(p.numel() for p in self.parameters())
        return f"TCResNet: {len(self.blocks)} residual blocks, {params:,} parameters (clip classifier)"


def tc_resnet(num_classes: int, n_mels: int = 40, channels: list[int] | None = None, width: float = 1.0,
              kernel_size: int = 9, dropout: float = 0.0) -> TCResNet:
    """TC-ResNet8 by default; ``channels=[16, 24, 24, 32, 32, 48, 48]`` gives TC-ResNet14."""
    return TCResNet(num_classes, n_mels, tuple(channels or (16, 24, 32, 48)), width, kernel_size, dropout)
