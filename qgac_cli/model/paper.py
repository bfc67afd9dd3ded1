"""The published networks (Ehrlich et al. 2020, ≈259 M parameters): for reference and
comparison, not for CPUs. Same interfaces as the efficient ones (`networks`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from qgac_cli.model.layers import RRDB, QuantConv, TableCode, frequency_major, per_plane, plane_major

if TYPE_CHECKING:
    from qgac_cli.model.networks import NetConfig


class PaperYNet(nn.Module):
    """BlockNet -> FrequencyNet -> BlockNet -> fusion, as published (≈256.8 M parameters)."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        c, g = cfg.channels, cfg.generator
        self.code = TableCode()
        self.enc_in, self.enc_body, self.enc_out = QuantConv(64, c, g), RRDB(c), QuantConv(c, 64 * 64, g)
        self.freq_in = nn.Conv2d(64 * 64, 64 * 4, 3, padding=1, groups=64)
        self.freq_body = RRDB(64 * 4, groups=64)
        self.freq_out = nn.Conv2d(64 * 4, 64 * 64, 3, padding=1, groups=64)
        self.dec_in, self.dec_body, self.dec_out = QuantConv(64 * 64, c, g), RRDB(c), QuantConv(c, 64 * 64, g)
        self.fuse = nn.Sequential(
            nn.Conv2d(64 * 192, 64 * 4, 3, padding=1, groups=64),
            nn.PReLU(),
            nn.Conv2d(64 * 4, 64, 3, padding=1, groups=64),
        )
        self.act = nn.ModuleList(nn.PReLU() for _ in range(5))

    @staticmethod
    def reach(cfg: NetConfig) -> int:
        """Blocks of context each side: 15 3x3 convolutions in each of the three RRDBs, and the
        frequency stage's and the fusion's four."""
        return 3 * 15 + 4

    def forward(self, x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        code = self.code(table)
        e = self.act[0](self.enc_in(x, code))
        e = self.act[1](self.enc_out(self.enc_body(e), code))  # (B, 64 planes * 64, h, w)
        f = frequency_major(e, 64)
        f = plane_major(self.freq_out(self.freq_body(self.freq_in(f))), 64)
        d = self.act[2](self.dec_in(f, code))
        d = self.act[3](self.dec_out(self.dec_body(d), code))
        fused = frequency_major(torch.cat([e, f, d], dim=1), 192)  # (B, 64 * 192, h, w)
        return x + self.fuse(fused)


class PaperColorNet(nn.Module):
    """Chroma CFM + RRDB, luma CFM on the restored Y, concat, RRDB, transposed CFM (≈2.6 M)."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        c, g = cfg.channels, cfg.generator
        self.c_code, self.y_code = TableCode(), TableCode()
        self.c_in, self.c_body = QuantConv(64, c, g), RRDB(c)
        self.c_refine = nn.Conv2d(c, c, 3, padding=1)  # the published 2x transposed conv; chroma
        # arrives here already at the luma grid, whatever its subsampling
        self.y_in = QuantConv(64, c, g)
        self.body = RRDB(2 * c)
        self.out = QuantConv(2 * c, 64, g)
        self.act = nn.ModuleList(nn.PReLU() for _ in range(3))

    @staticmethod
    def reach(cfg: NetConfig) -> int:
        """Blocks of context each side: two RRDBs of 15 3x3 convolutions, and the refinement's."""
        return 2 * 15 + 1

    def forward(
        self, chroma: torch.Tensor, y: torch.Tensor, c_table: torch.Tensor, y_table: torch.Tensor
    ) -> torch.Tensor:
        c_code, y_code = self.c_code(c_table), self.y_code(y_table)
        c = self.act[1](self.c_refine(self.c_body(self.act[0](self.c_in(chroma, c_code)))))
        g = per_plane(self.act[2](self.y_in(y, y_code)), chroma)
        return chroma + self.out(self.body(torch.cat([c, g], dim=1)), c_code)
