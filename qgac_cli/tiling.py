"""Tiled restoration: large images in MCU-aligned tiles with enough overlap that the result
equals the untiled one. Pure tensors in, pixel tiles out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import partial

import torch

from qgac_cli.coefficients import Planes, from_jpeg, mcu_grid
from qgac_cli.jpeg import JpegData
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
    grid = (planes.y.shape[-2] // fy, planes.y.shape[-1] // fx)
    window = partial(_slice, planes)
    return _restore_windows(
        model, window, grid, planes.factor, (planes.height, planes.width), tile_pixels, project, dtype
    )


def restore_jpeg_tiles(
    model: QGAC,
    jpeg: JpegData,
    tile_pixels: int | None,
    project: bool = True,
    dtype: torch.dtype | None = None,
    device: torch.device | str = "cpu",
    halo: int | None = None,
) -> Iterator[Tile]:
    """Restore a read JPEG tile by tile, making each tile's coefficients float only when it
    is its turn: memory is bounded by the tile, not the image. `halo` (blocks) caps the
    context each tile is given (None: the network's whole reach, exactly the untiled result)."""

    def window(rows: tuple[int, int], cols: tuple[int, int]) -> Planes:
        return from_jpeg(jpeg, rows, cols).to(device)

    size = (jpeg.height, jpeg.width)
    return _restore_windows(model, window, mcu_grid(jpeg), jpeg.chroma_factor, size, tile_pixels, project, dtype, halo)


def _restore_windows(
    model: QGAC,
    window: Callable[[tuple[int, int], tuple[int, int]], Planes],
    grid: tuple[int, int],
    factor: tuple[int, int],
    size: tuple[int, int],
    tile_pixels: int | None,
    project: bool,
    dtype: torch.dtype | None,
    halo: int | None = None,
) -> Iterator[Tile]:
    """The tiles of an image of `grid` MCUs, each restored from the planes `window(rows,
    cols)` gives for its MCUs plus the context margin."""
    (fy, fx), (mcu_rows, mcu_cols), (height, width) = factor, grid, size
    if not tile_pixels:
        size_r, size_c = mcu_rows, mcu_cols
    else:
        size_r = max(1, tile_pixels // (8 * fy))
        size_c = max(1, tile_pixels // (8 * fx))
    context = context_blocks(model.config) if halo is None else min(halo, context_blocks(model.config))
    margin_r, margin_c = -(-context // fy), -(-context // fx)  # whole MCUs covering the context
    rows, cols = list(_spans(mcu_rows, size_r, margin_r)), list(_spans(mcu_cols, size_c, margin_c))
    with torch.no_grad():
        for r0, r1, o0, o1 in rows:
            for c0, c1, p0, p1 in cols:
                pixels = restore_planes(model, window((o0, o1), (p0, p1)), project, dtype).pixels
                top, left = r0 * fy * 8, c0 * fx * 8
                bottom = min(r1 * fy * 8, height)
                right = min(c1 * fx * 8, width)
                if bottom <= top or right <= left:
                    continue
                dy, dx = top - o0 * fy * 8, left - p0 * fx * 8
                inner = pixels[..., dy : dy + bottom - top, dx : dx + right - left]
                yield Tile(top, left, inner, len(rows) * len(cols))
