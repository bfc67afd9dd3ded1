"""Colour detail guided by the luma: a small convolutional network after the refinement (#31).

The refinement (`qgac_cli.model.refine`) explains the chroma as a local linear function of the
luma; where a colour edge is not a linear function of the luma edge beside it (a coloured
line on a grey wall, two hues of one brightness, a saturated edge that clips), it has no
answer. This network sees the restored luma and the refined colour side by side at half the
luma grid, each 2x2 group of samples unshuffled into channels (4 of luma, 8 of colour), so
that a few 3x3 convolutions see 6x6 luma pixels at each step at a quarter of the cost of the
full grid, and returns a correction for each of the 8 colour samples of a group:

    colour + pixel_shuffle(net(unshuffle(luma), unshuffle(colour)))

Its hidden layers are modulated (scale and shift per channel, "FiLM") by a small function of
the quantization tables, so one network serves every quality as the rest of the model does.
The last convolution and the modulation start at zero: an untrained network changes nothing.
Samples in 0..255; always run in fp32, as the refinement is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from qgac_cli.model.refine import FEATURES, table_features

GROUP = 2  # the luma grid's samples per side that one position of the network holds
SCALE = 64.0  # samples are centred at 128 and divided by this on the way in
STEP = 16.0  # the last convolution's output, in levels


def reach(layers: int) -> int:
    """Luma blocks of context each side: the 3x3 convolutions (layers + 2) at half the grid."""
    return -(-(layers + 2) * GROUP // 8)


class ChromaDetail(nn.Module):
    """colour + a correction from a FiLM-conditioned CNN at half the luma grid."""

    def __init__(self, channels: int = 24, layers: int = 2) -> None:
        super().__init__()
        inputs, outputs = GROUP * GROUP * 3, GROUP * GROUP * 2
        self.channels, self.layers = channels, layers
        self.head = nn.Conv2d(inputs, channels, 3, padding=1)
        self.body = nn.ModuleList(nn.Conv2d(channels, channels, 3, padding=1) for _ in range(layers))
        self.acts = nn.ModuleList(nn.PReLU(channels) for _ in range(layers + 1))
        self.film = nn.Sequential(nn.Linear(FEATURES, 32), nn.PReLU(32), nn.Linear(32, 2 * channels * layers))
        self.tail = nn.Conv2d(channels, outputs, 3, padding=1)
        for zero in (self.film[-1], self.tail):
            nn.init.zeros_(zero.weight)
            nn.init.zeros_(zero.bias)

    def forward(
        self,
        colour: torch.Tensor,
        luma: torch.Tensor,
        y_table: torch.Tensor,
        c_table: torch.Tensor,
        factor: tuple[int, int],
    ) -> torch.Tensor:
        """Colour samples (B, 2, H, W) with detail added, guided by luma samples (B, 1, H, W)."""
        height, width = colour.shape[-2:]
        x = torch.cat([luma, colour], dim=1).sub(128.0).div_(SCALE)
        pad = (0, width % GROUP, 0, height % GROUP)
        if any(pad):
            x = F.pad(x, pad, mode="replicate")
        x = torch.cat([F.pixel_unshuffle(x[:, :1], GROUP), F.pixel_unshuffle(x[:, 1:], GROUP)], dim=1)
        film = self.film(table_features(y_table, c_table, factor)).view(-1, self.layers, 2, self.channels, 1, 1)
        x = self.acts[0](self.head(x))
        for i, conv in enumerate(self.body):
            x = self.acts[i + 1](torch.addcmul(film[:, i, 1], conv(x), 1 + film[:, i, 0]))
        correction = F.pixel_shuffle(self.tail(x), GROUP)[..., :height, :width]
        return torch.add(colour, correction, alpha=STEP)
