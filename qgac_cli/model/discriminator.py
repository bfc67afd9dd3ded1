"""The discriminator of the GAN stage: strided convolutions over RGB patches."""

from __future__ import annotations

import torch
from torch import nn


class Discriminator(nn.Module):
    """(B, 3, H, W) in [0, 1] -> (logits (B,), features list) — features feed the texture loss."""

    def __init__(self, channels: int = 32, depth: int = 4) -> None:
        super().__init__()
        layers, cin = [], 3
        for i in range(depth):
            cout = channels * 2**i
            layers.append(
                nn.Sequential(
                    nn.Conv2d(cin, cout, 3, padding=1),
                    nn.LeakyReLU(0.2),
                    nn.Conv2d(cout, cout, 4, stride=2, padding=1),
                    nn.LeakyReLU(0.2),
                )
            )
            cin = cout
        self.stages = nn.ModuleList(layers)
        self.head = nn.Linear(cin, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return self.head(x.mean((-2, -1))).squeeze(1), features


def gram(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix (B, C, C) of a feature map (B, C, H, W), normalized by its size."""
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)
