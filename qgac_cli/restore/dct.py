"""Pure JPEG maths on tensors: no I/O, no state, new tensors out.

Tensor notation used throughout the package:
- pixels: (B, C, H, W) float, RGB in [0, 1];
- sample planes: (B, 1, H, W) float in [0, 255] (Y, Cb or Cr), H and W multiples of 8 where
  they meet the DCT;
- coefficient planes: (B, 1, H, W), an "image of 8x8 blocks" (block (i, j) occupies rows
  8i..8i+7 and columns 8j..8j+7, frequency (u, v) at offset (u, v), natural order);
- block channels: (B, 64, H/8, W/8), channel u*8+v holds frequency (u, v) of every block;
- quantization tables: (B, 1, 8, 8), natural (row-major) order.
"""

from __future__ import annotations

import functools
import math
import operator

import torch

from qgac_cli.codec.quality import ZIGZAG

BLOCK = 8


def dct_matrix(dtype: torch.dtype = torch.float32, device: torch.device | None = None) -> torch.Tensor:
    """The orthonormal 8-point DCT-II matrix D, so that a block's coefficients are D X Dᵀ."""
    return _dct_n(BLOCK, dtype, device)


@functools.lru_cache(maxsize=16)
def _dct_2d_matrix(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(64, 64) matrix taking a block's 64 pixels (row-major) to its 64 coefficients (made
    once per dtype and device: the transforms run on every tile)."""
    d = dct_matrix(torch.float64, device)
    return torch.kron(d, d).to(dtype)


# The two rearrangements below are the only places that move samples between planes and block
# channels. Written as one view, permute and copy: the same layout as pixel_(un)shuffle(8),
# 1.3-1.5x faster on the CPU (bench/pipeline_profile.py).


def to_blocks(plane: torch.Tensor) -> torch.Tensor:
    """Plane (B, 1, H, W) -> block channels (B, 64, H/8, W/8)."""
    b, c, h, w = plane.shape
    grid = plane.reshape(b, c, h // BLOCK, BLOCK, w // BLOCK, BLOCK).permute(0, 1, 3, 5, 2, 4)
    return grid.reshape(b, c * BLOCK * BLOCK, h // BLOCK, w // BLOCK)  # (B, 64, H/8, W/8)


def from_blocks(blocks: torch.Tensor) -> torch.Tensor:
    """Block channels (B, 64, h, w) -> plane (B, 1, 8h, 8w)."""
    b, k, h, w = blocks.shape
    grid = blocks.reshape(b, k // 64, BLOCK, BLOCK, h, w).permute(0, 1, 4, 2, 5, 3)
    return grid.reshape(b, k // 64, h * BLOCK, w * BLOCK)  # (B, 1, 8h, 8w)


def _per_block(m: torch.Tensor, blocks: torch.Tensor) -> torch.Tensor:
    """Apply the (64, 64) matrix `m` to every block of (B, 64, h, w): one matrix product
    (einsum's route through bmm was 1.5x slower)."""
    b, k, h, w = blocks.shape
    return torch.matmul(m, blocks.reshape(b, k, h * w)).view(b, k, h, w)


def block_dct(blocks: torch.Tensor) -> torch.Tensor:
    """Pixels as block channels (B, 64, h, w) -> coefficients as block channels."""
    return _per_block(_dct_2d_matrix(blocks.dtype, blocks.device), blocks)


def block_idct(blocks: torch.Tensor) -> torch.Tensor:
    """Coefficients as block channels (B, 64, h, w) -> pixels as block channels."""
    return _per_block(_dct_2d_matrix(blocks.dtype, blocks.device).T, blocks)


def dct_plane(plane: torch.Tensor) -> torch.Tensor:
    """Level-shifted samples (B, 1, H, W) -> coefficient plane of the same shape."""
    return from_blocks(block_dct(to_blocks(plane)))


def idct_plane(plane: torch.Tensor) -> torch.Tensor:
    """Coefficient plane (B, 1, H, W) -> level-shifted samples of the same shape."""
    return from_blocks(block_idct(to_blocks(plane)))


def table_channels(table: torch.Tensor) -> torch.Tensor:
    """Quantization table (B, 1, 8, 8) -> (B, 64, 1, 1), broadcastable over block channels."""
    return table.reshape(table.shape[0], 64, 1, 1)  # (B, 64, 1, 1)


def zigzag_to_natural(values: torch.Tensor) -> torch.Tensor:
    """(..., 64) in zig-zag scan order -> (..., 64) in natural order."""
    out = torch.empty_like(values)
    out[..., list(ZIGZAG)] = values
    return out


def natural_to_zigzag(values: torch.Tensor) -> torch.Tensor:
    """(..., 64) in natural order -> (..., 64) in zig-zag scan order."""
    return values[..., list(ZIGZAG)]


# JFIF full-range YCbCr (ITU-R BT.601 coefficients, chroma offset 128), on 0..255 samples.
_RGB_TO_YCBCR = (
    (0.299, 0.587, 0.114),
    (-0.168735892, -0.331264108, 0.5),
    (0.5, -0.418687589, -0.081312411),
)
_YCBCR_TO_RGB = ((1.0, 0.0, 1.402), (1.0, -0.344136286, -0.714136286), (1.0, 1.772, 0.0))


def rgb_to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """RGB (B, 3, H, W) in [0, 1] -> YCbCr (B, 3, H, W) in [0, 255] (JFIF)."""
    m = torch.tensor(_RGB_TO_YCBCR, dtype=rgb.dtype, device=rgb.device)
    offset = torch.tensor([0.0, 128.0, 128.0], dtype=rgb.dtype, device=rgb.device)
    return torch.einsum("kc,bchw->bkhw", m, rgb * 255.0) + offset.view(1, 3, 1, 1)


def ycbcr_to_rgb(ycbcr: torch.Tensor) -> torch.Tensor:
    """YCbCr (B, 3, H, W) in [0, 255] -> RGB (B, 3, H, W) in [0, 1], not clamped."""
    m = torch.tensor(_YCBCR_TO_RGB, dtype=ycbcr.dtype, device=ycbcr.device)
    offset = torch.tensor([0.0, 128.0, 128.0], dtype=ycbcr.dtype, device=ycbcr.device)
    return torch.einsum("kc,bchw->bkhw", m, ycbcr - offset.view(1, 3, 1, 1)) / 255.0


def luma_chroma_to_rgb(luma: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
    """`ycbcr_to_rgb` of Y (B, 1, H, W) and Cb, Cr (B, 2, H, W) given apart, with no
    concatenated copy of the three planes: each RGB plane is the luma plus its terms of the
    centred chroma (exactly zero for grey, so grey stays grey), written into the result, then
    scaled. Elementwise, not a 1x1 convolution: oneDNN ran that 3-channel convolution 20x
    slower on two threads than on one (AVX-512)."""
    if luma.requires_grad or chroma.requires_grad:  # no out= under autograd
        return ycbcr_to_rgb(torch.cat([luma, chroma], dim=1))
    b, _, h, w = chroma.shape
    centred = chroma - 128.0
    rgb = chroma.new_empty(b, 3, h, w)
    for k, (_, from_cb, from_cr) in enumerate(_YCBCR_TO_RGB):
        plane = rgb[:, k : k + 1]
        plane.copy_(luma)
        for factor, samples in ((from_cb, centred[:, :1]), (from_cr, centred[:, 1:])):
            if factor:
                plane.add_(samples, alpha=factor)
    return rgb.mul_(1 / 255.0)


def add_replicated(plane: torch.Tensor, small: torch.Tensor, factor: tuple[int, int]) -> torch.Tensor:
    """`plane + replicate(small, factor)` for (B, C, H, W) and (B, C, H/fy, W/fx) in one pass,
    the replication a broadcast rather than a copy."""
    if factor == (1, 1):
        return plane + small
    (b, c, h, w), (fy, fx) = small.shape, factor
    total = plane.reshape(b, c, h, fy, w, fx) + small.reshape(b, c, h, 1, w, 1)
    return total.reshape(plane.shape)


def downsample(plane: torch.Tensor, factor: tuple[int, int]) -> torch.Tensor:
    """Box-average a sample plane (B, C, H, W) by (fy, fx), as libjpeg's encoder does."""
    if factor == (1, 1):
        return plane
    (fy, fx), (h, w) = factor, plane.shape[-2:]
    plane = plane[..., : h - h % fy, : w - w % fx]
    # strided sums, rows then columns: 8x faster than avg_pool2d on the CPU, the same mean
    rows = functools.reduce(operator.add, (plane[..., i::fy, :] for i in range(fy)))
    return functools.reduce(operator.add, (rows[..., j::fx] for j in range(fx))) / (fy * fx)


def upsample(plane: torch.Tensor, factor: tuple[int, int]) -> torch.Tensor:
    """Upsample a sample plane (B, C, h, w) by (fy, fx) as libjpeg-turbo's decoder does.

    Factors of 2 (4:2:0, 4:2:2, 4:4:0) use its triangle ("fancy") filter, which is bilinear
    interpolation with half-pixel centres and replicated edges (`triangle`, an axis at a
    time); other factors (4:1:1) replicate samples.
    """
    if factor == (1, 1):
        return plane
    if set(factor) <= {1, 2}:
        for axis, f in zip((plane.ndim - 2, plane.ndim - 1), factor):
            plane = triangle(plane, axis) if f == 2 else plane
        return plane
    return replicate(plane, factor)


def triangle(x: torch.Tensor, dim: int) -> torch.Tensor:
    """libjpeg's triangle filter doubling one axis: sample 2i is ¾ x[i] + ¼ x[i-1] and 2i+1 is
    ¾ x[i] + ¼ x[i+1], the edge samples their own neighbours. Without autograd each half is
    written straight into its strided place in the result: 2x faster on a CPU than
    F.interpolate's bilinear kernel (the same numbers up to float rounding); with it, the same
    arithmetic stacked."""
    n, base = x.shape[dim], x * 0.75
    if torch.is_grad_enabled() and x.requires_grad:
        before = torch.cat([x.narrow(dim, 0, 1), x.narrow(dim, 0, n - 1)], dim) if n > 1 else x
        after = torch.cat([x.narrow(dim, 1, n - 1), x.narrow(dim, n - 1, 1)], dim) if n > 1 else x
        halves = [torch.add(base, before, alpha=0.25), torch.add(base, after, alpha=0.25)]
        return torch.stack(halves, dim + 1).flatten(dim, dim + 1)
    out = x.new_empty(*x.shape[: dim + 1], 2, *x.shape[dim + 1 :])
    even, odd = out.select(dim + 1, 0), out.select(dim + 1, 1)
    torch.add(base.narrow(dim, 1, n - 1), x.narrow(dim, 0, n - 1), alpha=0.25, out=even.narrow(dim, 1, n - 1))
    torch.add(base.narrow(dim, 0, 1), x.narrow(dim, 0, 1), alpha=0.25, out=even.narrow(dim, 0, 1))
    torch.add(base.narrow(dim, 0, n - 1), x.narrow(dim, 1, n - 1), alpha=0.25, out=odd.narrow(dim, 0, n - 1))
    torch.add(base.narrow(dim, n - 1, 1), x.narrow(dim, n - 1, 1), alpha=0.25, out=odd.narrow(dim, n - 1, 1))
    return out.flatten(dim, dim + 1)


def replicate(plane: torch.Tensor, factor: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour upsampling: the pseudo-inverse of `downsample` (B, C, h, w)."""
    if factor == (1, 1):
        return plane
    return plane.repeat_interleave(factor[0], dim=-2).repeat_interleave(factor[1], dim=-1)


def dct_upsample_2x(blocks: torch.Tensor) -> torch.Tensor:
    """Double a plane's resolution in the DCT domain (B, 64, h, w) -> (B, 64, 2h, 2w).

    Each 8x8 block's spectrum is treated as the low-pass part of a 16x16 block (zero-padded
    higher frequencies, scaled by 2 for the orthonormal transform), then split into four 8x8
    blocks. Works on raw (not normalized) coefficients.
    """
    b, _, h, w = blocks.shape
    coef = blocks.permute(0, 2, 3, 1).reshape(b, h, w, BLOCK, BLOCK)  # (B, h, w, 8, 8)
    d16 = _dct_n(2 * BLOCK, blocks.dtype, blocks.device)
    big = torch.zeros(b, h, w, 2 * BLOCK, 2 * BLOCK, dtype=blocks.dtype, device=blocks.device)
    big[..., :BLOCK, :BLOCK] = coef * 2.0
    pix16 = d16.T @ big @ d16  # (B, h, w, 16, 16)
    pix = pix16.permute(0, 1, 3, 2, 4).reshape(b, 1, 2 * h * BLOCK, 2 * w * BLOCK)
    return to_blocks(dct_plane(pix))


def dct_downsample_2x(blocks: torch.Tensor) -> torch.Tensor:
    """Halve a plane's resolution in the DCT domain (B, 64, 2h, 2w) -> (B, 64, h, w).

    Each 2x2 group of 8x8 blocks becomes one 16x16 block whose 8x8 low-pass spectrum (scaled by
    1/2) is kept: the exact inverse of `dct_upsample_2x`.
    """
    b, _, h2, w2 = blocks.shape
    pix = idct_plane(from_blocks(blocks))  # (B, 1, 8*h2, 8*w2)
    h, w = h2 // 2, w2 // 2
    tiles = pix.reshape(b, h, 2 * BLOCK, w, 2 * BLOCK).permute(0, 1, 3, 2, 4)  # (B, h, w, 16, 16)
    d16 = _dct_n(2 * BLOCK, blocks.dtype, blocks.device)
    spec = d16 @ tiles @ d16.T
    low = spec[..., :BLOCK, :BLOCK] / 2.0  # (B, h, w, 8, 8)
    return low.reshape(b, h, w, 64).permute(0, 3, 1, 2).contiguous()


def _dct_n(n: int, dtype: torch.dtype, device: torch.device | None) -> torch.Tensor:
    """The orthonormal n-point DCT-II matrix (n, n)."""
    k = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    i = torch.arange(n, dtype=torch.float64).unsqueeze(0)
    d = torch.cos((2 * i + 1) * k * math.pi / (2 * n)) * math.sqrt(2 / n)
    d[0] = d[0] / math.sqrt(2)
    return d.to(dtype=dtype, device=device)
