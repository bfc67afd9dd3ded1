"""The Y network, the colour network and the full model, for the paper and efficient presets.

All networks take and return *normalized* coefficients as block channels (B, 64, h, w) plus
the quantization tables (B, 1, 8, 8) in 0..255; `QGAC` does the normalization with the
statistics stored in its buffers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from qgac_cli.model.detail import ChromaDetail
from qgac_cli.model.layers import QuantConv, ResidualBlock, TableCode, per_plane, zero_init
from qgac_cli.model.paper import PaperColorNet, PaperYNet
from qgac_cli.model.refine import ChromaRefine
from qgac_cli.model.stored import StoredColorNet

KINDS = {"paper", "efficient", "stored"}  # stored: colour only (model.stored)
GENERATORS = {"full", "basis", "concat", "none"}
LIMITS = {"channels": (1, 512), "blocks": (0, 32), "basis": (1, 64), "freq_channels": (1, 16)}
DETAIL_LIMITS = {"detail": (0, 256), "detail_layers": (1, 16)}


@dataclass(frozen=True)
class NetConfig:
    """One network's shape. kind "paper" is the published structure, "efficient" ours,
    "stored" our colour network on the stored chroma grid."""

    kind: str
    channels: int
    blocks: int = 0  # residual blocks per stage (efficient nets)
    generator: str = "basis"  # QuantConv weight generator: full | basis | none
    basis: int = 8
    freq_channels: int = 2  # channels per frequency in the frequency stage (efficient Y net)

    def __post_init__(self) -> None:
        """Refuse shapes no network of ours has: a checkpoint's config is checked before
        anything is built from it (a huge or negative width would cost minutes and gigabytes)."""
        if self.kind not in KINDS:
            raise ValueError(f"unknown network kind {self.kind!r}; choose one of {sorted(KINDS)}")
        if self.generator not in GENERATORS:
            raise ValueError(f"unknown weight generator {self.generator!r}; choose one of {sorted(GENERATORS)}")
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")


@dataclass(frozen=True)
class ModelConfig:
    y: NetConfig
    color: NetConfig
    refine: bool = False  # the luma-guided chroma refinement after the colour network (model.refine)
    detail: int = 0  # channels of the colour detail network after the refinement (model.detail); 0: none
    detail_layers: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.refine, bool):
            raise ValueError(f"refine must be true or false, got {self.refine!r}")
        for name, (low, high) in DETAIL_LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """Raises KeyError, TypeError or ValueError for anything but a valid config. A config
        written before the refinement (or the detail network) existed has none."""
        return cls(
            y=NetConfig(**data["y"]),
            color=NetConfig(**data["color"]),
            refine=data.get("refine", False),
            detail=data.get("detail", 0),
            detail_layers=data.get("detail_layers", 2),
        )


# --------------------------------------------------------------------------- efficient networks


class FrequencyStage(nn.Module):
    """Per-frequency 3x3 convolutions (groups = 64) between 1x1 projections, residual."""

    def __init__(self, channels: int, per_frequency: int) -> None:
        super().__init__()
        f = 64 * per_frequency
        self.body = nn.Sequential(
            nn.Conv2d(channels, f, 1),
            nn.PReLU(f),
            nn.Conv2d(f, f, 3, padding=1, groups=64),
            nn.PReLU(f),
            nn.Conv2d(f, f, 3, padding=1, groups=64),
            nn.PReLU(f),
            nn.Conv2d(f, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x + self.body(x)
        # oneDNN's grouped convolutions train 1.8x faster channels-last on a CPU; at inference
        # the layout change costs more than it saves (bench/model_speed.py)
        return x + self.body(x.contiguous(memory_format=torch.channels_last)).contiguous()


class EfficientYNet(nn.Module):
    """The paper's Y structure at a CPU budget: table-conditioned block encoder, residual
    blocks on the block grid, per-frequency stage, residual blocks, table-conditioned fusion."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        c = cfg.channels
        self.code = TableCode()
        self.head = QuantConv(64, c, cfg.generator, cfg.basis)
        self.act = nn.PReLU(c)
        self.encode = nn.Sequential(*(ResidualBlock(c) for _ in range(cfg.blocks)))
        self.frequency = FrequencyStage(c, cfg.freq_channels)
        self.decode = nn.Sequential(*(ResidualBlock(c) for _ in range(cfg.blocks)))
        self.fuse = zero_init(QuantConv(3 * c, 64, cfg.generator, cfg.basis))

    @staticmethod
    def reach(cfg: NetConfig) -> int:
        """Blocks of context each output block depends on, each side: one per 3x3 convolution
        (two per residual block, two in the frequency stage)."""
        return 4 * cfg.blocks + 2

    def forward(self, x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        code = self.code(table)
        e = self.encode(self.act(self.head(x, code)))
        f = self.frequency(e)
        d = self.decode(f)
        return x + self.fuse(torch.cat([e, f, d], dim=1), code)


class EfficientColorNet(nn.Module):
    """Chroma (at the luma grid) guided by the restored Y; one set of weights for Cb and Cr."""

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        c = cfg.channels
        self.c_code, self.y_code = TableCode(), TableCode()
        self.c_in = QuantConv(64, c, cfg.generator, cfg.basis)
        self.y_in = QuantConv(64, c, cfg.generator, cfg.basis)
        self.mix = nn.Sequential(nn.PReLU(2 * c), nn.Conv2d(2 * c, c, 1), nn.PReLU(c))
        self.body = nn.Sequential(*(ResidualBlock(c) for _ in range(cfg.blocks)))
        self.out = zero_init(QuantConv(c, 64, cfg.generator, cfg.basis))

    @staticmethod
    def reach(cfg: NetConfig) -> int:
        """Blocks of context each side: two 3x3 convolutions per residual block."""
        return 2 * cfg.blocks

    def forward(
        self, chroma: torch.Tensor, y: torch.Tensor, c_table: torch.Tensor, y_table: torch.Tensor
    ) -> torch.Tensor:
        c_code = self.c_code(c_table)
        g = per_plane(self.y_in(y, self.y_code(y_table)), chroma)
        h = torch.cat([self.c_in(chroma, c_code), g], dim=1)
        return chroma + self.out(self.body(self.mix(h)), c_code)


NETWORKS = {
    ("y", "paper"): PaperYNet,
    ("y", "efficient"): EfficientYNet,
    ("color", "paper"): PaperColorNet,
    ("color", "efficient"): EfficientColorNet,
    ("color", "stored"): StoredColorNet,
}


def build_net(role: str, cfg: NetConfig) -> nn.Module:
    try:
        return NETWORKS[(role, cfg.kind)](cfg)
    except KeyError:
        kinds = sorted({k for _, k in NETWORKS})
        raise ValueError(f"unknown network kind {cfg.kind!r}; choose one of {kinds}") from None


# --------------------------------------------------------------------------- full model


class QGAC(nn.Module):
    """Restores dequantized coefficients: Y first, then Cb and Cr guided by the restored Y.
    The path through its parts, for restoring and training alike, is
    `qgac_cli.restore.restoration.restore_planes`.

    Buffers `mean` and `std` (2, 64) hold the per-frequency statistics of luma (row 0) and
    chroma (row 1) coefficients; inputs are normalized with them and outputs mapped back.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.y_net = build_net("y", config.y)
        self.color_net = build_net("color", config.color)
        self.refine = ChromaRefine() if config.refine else None
        self.detail = ChromaDetail(config.detail, config.detail_layers) if config.detail else None
        self.register_buffer("mean", torch.zeros(2, 64))
        self.register_buffer("std", torch.ones(2, 64))
        # the networks' feature-map layout: the trainer sets channels_last for cuDNN's bf16
        # kernels (with the weights'); what comes out is always contiguous
        self.layout = torch.contiguous_format
        # at inference on a CPU the Y network runs channels-last: oneDNN's 3x3 and per-frequency
        # convolutions are faster in it than its two layout changes cost (on a 2-core AVX2 CPU,
        # 8 MP untiled, one or two threads: `fast`'s Y network 12-17 %, `large`'s 17-23 % faster;
        # bench/pipeline_profile.py --before, bench/model_speed.py --layouts). The colour
        # networks, whose stored-grid and luma-guided parts reshape their features, are slower
        # in it and keep `layout`.
        self.inference_y_layout = torch.channels_last

    def _norm(self, x: torch.Tensor, row: int, layout: torch.memory_format | None = None) -> torch.Tensor:
        x = (x - self.mean[row].view(1, 64, 1, 1)) / self.std[row].view(1, 64, 1, 1)
        return x.contiguous(memory_format=layout or self.layout)

    def _y_layout(self, y: torch.Tensor) -> torch.memory_format:
        """The Y network's feature-map layout: the trainer's while training, `inference_y_layout`
        at inference on a CPU."""
        return self.inference_y_layout if not self.training and y.device.type == "cpu" else self.layout

    def _denorm(self, x: torch.Tensor, row: int) -> torch.Tensor:
        return (x * self.std[row].view(1, 64, 1, 1) + self.mean[row].view(1, 64, 1, 1)).contiguous()

    def restore_y(self, y: torch.Tensor, y_table: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Raw luma coefficients (B, 64, h, w) -> restored raw coefficients. `dtype` (e.g.
        bfloat16) runs the network, not the normalization, in reduced precision."""
        with _autocast(y, dtype):
            out = self.y_net(self._norm(y, 0, self._y_layout(y)), y_table)
        return self._denorm(out.float(), 0)

    @property
    def stored_grid(self) -> bool:
        """Whether the colour network restores the chroma on its stored grid (model.stored)."""
        return getattr(self.color_net, "stored_grid", False)

    def restore_color(
        self,
        chroma: torch.Tensor,
        y: torch.Tensor,
        c_table: torch.Tensor,
        y_table: torch.Tensor,
        dtype: torch.dtype | None = None,
        factor: tuple[int, int] = (1, 1),
    ) -> torch.Tensor:
        """Raw chroma coefficients (B, 2, 64, h, w) and the restored raw Y (B, 64, H, W) ->
        restored raw chroma coefficients (B, 2, 64, h, w): the chroma at the luma grid, or
        where the network works on the stored grid (`stored_grid`), as stored, `factor` the
        subsampling."""
        b = chroma.shape[0]
        c = self._norm(chroma.flatten(0, 1), 1)  # (2B, 64, h, w): Cb and Cr share weights
        g = self._norm(y, 0)  # (B, 64, H, W): its features are shared by Cb and Cr
        grid = (factor,) if self.stored_grid else ()
        with _autocast(c, dtype):
            out = self.color_net(c, g, c_table.repeat_interleave(2, dim=0), y_table, *grid)
        return self._denorm(out.float(), 1).view(b, 2, *out.shape[1:])

    def refine_color(
        self,
        colour: torch.Tensor,
        luma: torch.Tensor,
        y_table: torch.Tensor,
        c_table: torch.Tensor,
        factor: tuple[int, int],
    ) -> torch.Tensor:
        """Restored colour samples (B, 2, H, W) refined by the luma samples (B, 1, H, W) of the
        restored Y, where the model has a refinement, then given the detail network's
        correction, where it has one; unchanged where neither. Always fp32: a guided filter's
        variances lose their meaning in bf16."""
        with torch.autocast(colour.device.type, enabled=False):
            for stage in (self.refine, self.detail):
                if stage is not None:
                    colour = stage(colour.float(), luma.float(), y_table, c_table, factor)
        return colour


def _autocast(like: torch.Tensor, dtype: torch.dtype | None):
    return torch.autocast(like.device.type, dtype=dtype, enabled=dtype is not None)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
