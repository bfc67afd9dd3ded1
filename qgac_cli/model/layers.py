"""Building blocks: the table code, Convolutional Filter Manifolds, RRDB, residual blocks.

Feature maps live on the 8x8 block grid: (B, C, h, w). A stride-8 8x8 convolution over an
"image of blocks" is exactly a 1x1 convolution over block channels, and its transposed twin
is the 1x1 convolution back; `QuantConv` is that per-image 1x1 convolution, with its weights
generated from the quantization table (the CFM of the paper).
"""

from __future__ import annotations

import torch
from torch import nn

CODE_DIM = 64


class TableCode(nn.Module):
    """The CFM trunk: quantization table (B, 1, 8, 8) / 255 -> a code (B, 64)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, CODE_DIM, 8), nn.PReLU(CODE_DIM), nn.Conv2d(CODE_DIM, CODE_DIM, 1), nn.PReLU(CODE_DIM)
        )

    def forward(self, table: torch.Tensor) -> torch.Tensor:
        return self.net(table / 255.0).flatten(1)  # (B, 64)


class QuantConv(nn.Module):
    """Per-image 1x1 convolution (B, cin, h, w) -> (B, cout, h, w) whose weights are a smooth
    function of a table code.

    generator="full" is the paper's: a linear map from the code to every weight
    (64 * cout * cin parameters). generator="basis" learns `basis` kernels and mixes them
    with coefficients computed from the code: the same smooth manifold of filters at
    basis * cout * cin parameters. Ablations: generator="concat" has fixed kernels and only
    adds a table-dependent term (what concatenating the table to the input amounts to);
    generator="none" ignores the table.
    """

    def __init__(self, cin: int, cout: int, generator: str = "basis", basis: int = 8) -> None:
        super().__init__()
        self.cin, self.cout, self.generator = cin, cout, generator
        if generator == "full":
            self.weights = nn.Linear(CODE_DIM, cout * cin, bias=False)
        elif generator == "basis":
            self.mix = nn.Linear(CODE_DIM, basis)
            self.basis = nn.Parameter(torch.randn(basis, cout * cin) / (cin**0.5 * basis**0.5))
            self.shared = nn.Parameter(torch.randn(cout, cin) / cin**0.5)
        elif generator in ("concat", "none"):
            self.shared = nn.Parameter(torch.randn(cout, cin) / cin**0.5)
        else:
            raise ValueError(f"unknown generator {generator!r}; choose full, basis, concat or none")
        if generator == "none":
            self.fixed_bias = nn.Parameter(torch.zeros(cout))
        else:
            self.bias = nn.Linear(CODE_DIM, cout)

    def kernels(self, code: torch.Tensor) -> torch.Tensor:
        """The generated kernels (B, cout, cin) for a batch of codes (B, 64)."""
        b = code.shape[0]
        if self.generator == "full":
            return self.weights(code).view(b, self.cout, self.cin) / self.cin**0.5
        if self.generator == "basis":
            mixed = (self.mix(code) @ self.basis).view(b, self.cout, self.cin)
            return self.shared.unsqueeze(0) + mixed
        return self.shared.unsqueeze(0).expand(b, -1, -1)

    def biases(self, code: torch.Tensor) -> torch.Tensor:
        """(B, cout) biases for a batch of codes."""
        if self.generator == "none":
            return self.fixed_bias.unsqueeze(0).expand(code.shape[0], -1)
        return self.bias(code)

    def forward(self, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        bias = self.biases(code).view(b, self.cout, 1, 1)
        if x.is_contiguous() or not x.is_contiguous(memory_format=torch.channels_last):
            y = torch.bmm(self.kernels(code), x.reshape(b, self.cin, h * w))  # (B, cout, h*w)
            return y.view(b, self.cout, h, w) + bias
        # channels-last in, channels-last out, without a copy: (B, h*w, cin) @ (B, cin, cout)
        y = torch.bmm(x.permute(0, 2, 3, 1).reshape(b, h * w, self.cin), self.kernels(code).transpose(1, 2))
        return y.view(b, h, w, self.cout).permute(0, 3, 1, 2) + bias


def zero_init(module: QuantConv) -> QuantConv:
    """Make a QuantConv output exactly zero (a residual branch that starts as the identity)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResidualBlock(nn.Module):
    """conv 3x3 -> PReLU -> conv 3x3, scaled and added to the input (EDSR style, no normalization)."""

    def __init__(self, channels: int, scale: float = 0.1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.PReLU(channels),
            nn.Conv2d(channels, channels, 3, padding=1),
        )
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.scale * self.body(x)


class DenseBlock(nn.Module):
    """ESRGAN dense block: 5 convs 3x3 with dense connections, PReLU, residual scaled by 0.2."""

    def __init__(self, channels: int, growth: int, groups: int = 1) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(channels + i * growth, growth if i < 4 else channels, 3, padding=1, groups=groups)
            for i in range(5)
        )
        self.acts = nn.ModuleList(nn.PReLU() for _ in range(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv, act in zip(self.convs, self.acts):
            features.append(act(conv(torch.cat(features, dim=1))))
        return x + 0.2 * features[-1]


class RRDB(nn.Module):
    """Residual-in-residual dense block: 3 dense blocks, the whole scaled by 0.2."""

    def __init__(self, channels: int, groups: int = 1) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(DenseBlock(channels, channels, groups) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.blocks(x)


def frequency_major(x: torch.Tensor, planes: int) -> torch.Tensor:
    """(B, planes*64, h, w) plane-major block channels -> (B, 64*planes, h, w) frequency-major."""
    b, _, h, w = x.shape
    return x.view(b, planes, 64, h, w).transpose(1, 2).reshape(b, 64 * planes, h, w)


def plane_major(x: torch.Tensor, planes: int) -> torch.Tensor:
    """Inverse of `frequency_major`."""
    b, _, h, w = x.shape
    return x.view(b, 64, planes, h, w).transpose(1, 2).reshape(b, planes * 64, h, w)


def per_plane(guide: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
    """Luma features of B images (B, c, h, w) for the Cb and Cr planes of each, which the
    colour networks take as a batch of 2B (Cb and Cr of an image side by side): the luma
    convolution runs once per image, not once per plane."""
    return guide.repeat_interleave(chroma.shape[0] // guide.shape[0], dim=0)
