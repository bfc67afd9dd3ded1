"""A colour network that works where the colour is stored (issue #31, the paper's order).

The efficient colour network restores chroma brought to the luma grid and re-transformed
there, conditioned on the chroma table, whose frequencies belong to the *stored* grid. This
one restores the stored chroma coefficients themselves, on their own grid with their own
table, and the decoder's upsampling comes after it (the refinement then brings luma edges
into the upsampled colour). The restored Y guides it at finer than one projection per stored
block: the luma features of each of the (up to 2 x 2) luma blocks a chroma block covers are
unshuffled into channels of their own.
"""

from __future__ import annotations

import torch
from torch import nn

from qgac_cli.model.layers import QuantConv, ResidualBlock, TableCode, per_plane, zero_init

# the largest chroma subsampling (vertical, horizontal) a JPEG of ours has: 4:2:0
MOST = (2, 2)
WIDEST = 4  # the most luma blocks a chroma block covers along an axis (JPEG's factors are 1-4)


def _at_most_two(blocks: torch.Tensor, axis: int) -> torch.Tensor:
    """Fold an axis of luma blocks inside a chroma block down to the two positions the
    network has channels for: 4 (4:1:1's horizontal) as two pairs, each pair's mean; an odd
    count (no camera writes one) as its mean."""
    n = blocks.shape[axis]
    if n <= 2:
        return blocks
    groups = 2 if n % 2 == 0 else 1
    shape = (*blocks.shape[:axis], groups, n // groups, *blocks.shape[axis + 1 :])
    return blocks.reshape(shape).mean(dim=axis + 1)


def unshuffled(features: torch.Tensor, factor: tuple[int, int]) -> torch.Tensor:
    """Luma-grid features (B, c, fy·h, fx·w) -> (B, c·4, h, w): the features of the luma block
    at (i, j) inside each chroma block in channel group i·2 + j, the groups a subsampling
    lacks (4:2:2, 4:4:4) zero. Where a chroma block covers more than two luma blocks along an
    axis (4:1:1, 4:1:0), neighbouring luma blocks share a group, their features averaged."""
    fy, fx = factor
    b, c, hy, wy = features.shape
    h, w = hy // fy, wy // fx
    blocks = features.reshape(b, c, h, fy, w, fx).permute(0, 3, 5, 1, 2, 4)  # (B, fy, fx, c, h, w)
    blocks = _at_most_two(_at_most_two(blocks, 1), 2)
    fy, fx = blocks.shape[1:3]
    if (fy, fx) != MOST:
        full = features.new_zeros(b, *MOST, c, h, w)
        full[:, :fy, :fx] = blocks
        blocks = full
    return blocks.reshape(b, MOST[0] * MOST[1] * c, h, w)


class StoredColorNet(nn.Module):
    """Stored chroma coefficients (2B, 64, h, w), normalized, guided by the restored Y
    (B, 64, fy·h, fx·w), normalized -> restored stored chroma (2B, 64, h, w), normalized.
    One set of weights for Cb and Cr."""

    stored_grid = True  # what `restoration.network_colour` asks

    def __init__(self, cfg) -> None:
        super().__init__()
        c = cfg.channels
        guide = MOST[0] * MOST[1] * c
        self.c_code, self.y_code = TableCode(), TableCode()
        self.c_in = QuantConv(64, c, cfg.generator, cfg.basis)
        self.y_in = QuantConv(64, c, cfg.generator, cfg.basis)
        self.mix = nn.Sequential(nn.PReLU(c + guide), nn.Conv2d(c + guide, c, 1), nn.PReLU(c))
        self.body = nn.Sequential(*(ResidualBlock(c) for _ in range(cfg.blocks)))
        self.out = zero_init(QuantConv(c, 64, cfg.generator, cfg.basis))

    @staticmethod
    def reach(cfg) -> int:
        """Luma blocks of context each side: two 3x3 convolutions per residual block, each a
        stored block, which covers up to `WIDEST` luma blocks (4:1:1's across)."""
        return 2 * cfg.blocks * WIDEST

    def forward(
        self,
        chroma: torch.Tensor,
        y: torch.Tensor,
        c_table: torch.Tensor,
        y_table: torch.Tensor,
        factor: tuple[int, int],
    ) -> torch.Tensor:
        c_code = self.c_code(c_table)
        g = per_plane(unshuffled(self.y_in(y, self.y_code(y_table)), factor), chroma)
        h = torch.cat([self.c_in(chroma, c_code), g], dim=1)
        return chroma + self.out(self.body(self.mix(h)), c_code)
