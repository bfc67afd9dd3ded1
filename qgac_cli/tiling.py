"""Tiled restoration: large images in MCU-aligned tiles with enough overlap that the result
equals the untiled one. Pure tensors in, pixel tiles out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import torch

from qgac_cli.coefficients import Planes
from qgac_cli.model import QGAC
from qgac_cli.model.networks import ModelConfig
from qgac_cli.restoration import restore_planes


def context_blocks(config: ModelConfig) -> int:
    """How many blocks of context (on the luma grid) one output block depends on, each side.

    Every 3x3 convolution on the block grid reaches one block further; the colour network
    reads the restored Y, so the two reaches add up; +1 for chroma upsampling.
    """
    return _reach(config.y, "y") + _reach(config.color, "color") + 1


def _reach(cfg, role: str) -> int:
    if cfg.kind == "paper":
        return 3 * 15 + 4 if role == "y" else 2 * 15 + 1
    return 4 * cfg.blocks + 2 if role == "y" else 2 * cfg.blocks


@dataclass(frozen=True)
class Tile:
    """Where a tile's inner part lands in the output image, in pixels."""

    top: int
    left: int
    pixels: torch.Tensor  # (B, C, h, w) restored, in [0, 1], already cropped to the image
    count: int = 1  # how many tiles the image has


def _slice(planes: Planes, rows: tuple[int, int], cols: tuple[int, int]) -> Planes:
    """The sub-planes of MCU rows/cols [r0, r1) x [c0, c1); their visible size ends where the
    image ends, so edge handling matches the untiled restoration."""
    fy, fx = planes.factor
    (r0, r1), (c0, c1) = rows, cols
    y = planes.y[..., r0 * fy : r1 * fy, c0 * fx : c1 * fx]
    chroma = None if planes.chroma is None else planes.chroma[..., r0:r1, c0:c1]
    height = min(y.shape[-2] * 8, planes.height - r0 * fy * 8)
    width = min(y.shape[-1] * 8, planes.width - c0 * fx * 8)
    return replace(planes, y=y, chroma=chroma, height=height, width=width)


def _spans(count: int, size: int, margin: int) -> Iterator[tuple[int, int, int, int]]:
    """(inner start, inner end, outer start, outer end) over `count` MCUs."""
    for start in range(0, count, size):
        end = min(count, start + size)
        yield start, end, max(0, start - margin), min(count, end + margin)


def restore_tiles(
    model: QGAC, planes: Planes, tile_pixels: int | None, project: bool = True, dtype: torch.dtype | None = None
) -> Iterator[Tile]:
    """Restore `planes` (batch of one or more) tile by tile; None or 0 means one tile."""
    fy, fx = planes.factor
    mcu_rows, mcu_cols = planes.y.shape[-2] // fy, planes.y.shape[-1] // fx
    if not tile_pixels:
        size_r, size_c = mcu_rows, mcu_cols
    else:
        size_r = max(1, tile_pixels // (8 * fy))
        size_c = max(1, tile_pixels // (8 * fx))
    context = context_blocks(model.config)
    margin_r, margin_c = -(-context // fy), -(-context // fx)  # whole MCUs covering the context
    rows, cols = list(_spans(mcu_rows, size_r, margin_r)), list(_spans(mcu_cols, size_c, margin_c))
    with torch.no_grad():
        for r0, r1, o0, o1 in rows:
            for c0, c1, p0, p1 in cols:
                sub = _slice(planes, (o0, o1), (p0, p1))
                pixels = restore_planes(model, sub, project, dtype).pixels
                top, left = r0 * fy * 8, c0 * fx * 8
                bottom = min(r1 * fy * 8, planes.height)
                right = min(c1 * fx * 8, planes.width)
                if bottom <= top or right <= left:
                    continue
                dy, dx = top - o0 * fy * 8, left - p0 * fx * 8
                inner = pixels[..., dy : dy + bottom - top, dx : dx + right - left]
                yield Tile(top, left, inner, len(rows) * len(cols))
